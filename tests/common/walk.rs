//! What people do on the pages again and again, as the page tests do it in a browser: sign in
//! and out as staff, fill the public complaint form.

use super::browser::Browser;
use super::{TestApp, TEST_PASSWORD};

/// Signs in on the staff page and waits for the role's start page (`start`).
pub fn staff_sign_in(b: &Browser, app: &TestApp, email: &str, start: &str) {
    b.goto(&app.url("/staff/login"));
    b.type_into("#f-email", email);
    b.type_into("#f-password", TEST_PASSWORD);
    b.click("form[action='/staff/login'] button[type=submit]");
    b.wait_for_path(start);
}

pub fn staff_sign_out(b: &Browser) {
    b.click("form[action='/staff/logout'] button");
    b.wait_for_path("/staff/login");
}

/// Fills the public complaint form (the page's own field names) in `lang`.
pub fn fill_public_complaint(b: &Browser, lang: &str, department_id: &str, subject: &str) {
    b.choose("#f-complainant-type", "foreign_invested_enterprise");
    let (name, company, nationality) = match lang {
        "zh" => ("李华", "郴州精密零件有限公司（外商独资）", "新加坡"),
        _ => ("Anna Müller", "Hunan Precision Parts Co., Ltd.", "Germany"),
    };
    b.type_into("#f-complainant-name", name);
    b.type_into("#f-complainant-company", company);
    b.type_into("#f-complainant-nationality", nationality);
    b.type_into("#f-complainant-email", "anna.mueller@example.de");
    b.type_into("#f-complainant-phone", "+49 30 1234567");
    b.choose("#f-complainant-language", lang);
    b.type_into("#f-project", "Chenzhou plant expansion, phase 2");
    b.choose("#f-matter_type", "administrative_act");
    b.choose("#f-department_id", department_id);
    b.type_into("#f-subject", subject);
    b.type_into(
        "#f-facts",
        "We applied on 2026-08-01; all materials were accepted; no decision since.\nSecond line <b>not bold</b>.",
    );
    b.type_into("#f-request", "A decision on the permit, or a written reason for the delay.");
}
