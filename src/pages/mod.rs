//! The pages people use, served by the same binary as the API: the investor's complaint form
//! and tracking page, the ballot page, and the staff pages (hotline intake, department inbox,
//! coordinator console, commission console). Server-rendered HTML in Chinese and English over
//! the same services as the JSON API; one small script and one stylesheet, both served from
//! here; nothing loaded from elsewhere.

pub mod engine;
pub mod error_pages;
pub mod i18n;
pub mod render;
pub mod session;

mod admin;
mod assets;
mod commission;
mod complaint_form;
mod investor;
mod signin;
mod staff;
mod vote;

pub use engine::Pages;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(assets::routes)
        .configure(investor::routes)
        .configure(signin::routes)
        .configure(vote::routes)
        .configure(staff::routes)
        .configure(commission::routes)
        .configure(admin::routes);
}
