//! The public pages in every language they offer, at 390 px and 1280 px, pass axe-core's WCAG
//! 2.1 A and AA rules (every `screenshots` call runs them: see `tests/common/browser.rs`), with
//! the right `lang`; and an investor from Taiwan files and tracks a complaint in the browser in
//! traditional Chinese. The other page tests run the same checks on the pages they reach (the
//! staff, ballot and commission pages, in zh and en).

mod common;

use common::browser::Browser;
use common::spawn_app;

#[test]
fn public_pages_pass_wcag_checks_in_every_language_at_phone_and_desktop_width() {
    let app = spawn_app();
    let b = Browser::start();
    let pages = [("/", "form"), ("/track", "lookup"), ("/vote", "vote-start")];
    for (lang, html_lang) in [("zh", "zh-Hans"), ("zh-Hant", "zh-Hant"), ("en", "en")] {
        for (path, name) in pages {
            b.goto(&app.url(&format!("{path}?lang={lang}")));
            assert_eq!(b.script("return document.documentElement.lang;").as_str(), Some(html_lang), "{path} {lang}");
            b.screenshots(&format!("a11y-{name}-{lang}"));
        }
    }
    // The staff sign-in page is zh/en; asked for zh-Hant it answers in zh.
    for (lang, html_lang) in [("zh", "zh-Hans"), ("en", "en"), ("zh-Hant", "zh-Hans")] {
        b.goto(&app.url(&format!("/staff/login?lang={lang}")));
        assert_eq!(b.script("return document.documentElement.lang;").as_str(), Some(html_lang), "{lang}");
        b.screenshots(&format!("a11y-signin-{lang}"));
    }
}

#[test]
fn an_investor_files_and_tracks_in_traditional_chinese_in_the_browser() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let b = Browser::start();
    b.goto(&app.url("/?lang=zh-Hant"));
    assert_eq!(b.text("h1"), "外商投資企業投訴");
    // The notice language follows the page's.
    assert_eq!(b.value("#f-complainant-language"), "zh-Hant");
    b.choose("#f-complainant-type", "foreign_invested_enterprise");
    b.type_into("#f-complainant-name", "陳大文");
    b.type_into("#f-complainant-company", "郴州精密零件有限公司（港資）");
    b.type_into("#f-complainant-nationality", "中國香港");
    b.type_into("#f-complainant-email", "chan.taiman@example.hk");
    b.type_into("#f-complainant-phone", "+852 2123 4567");
    b.type_into("#f-project", "郴州廠房擴建二期");
    b.choose("#f-matter_type", "administrative_act");
    b.choose("#f-department_id", &dept);
    b.type_into("#f-subject", "施工許可逾期未決");
    b.type_into("#f-facts", "2026年8月1日申請，材料齊全，至今未有決定。");
    b.type_into("#f-request", "請作出決定，或書面說明延誤原因。");
    b.click("form[data-validate] button[type=submit]");
    b.find("#tracking-number");
    assert_eq!(b.text("h1"), "投訴已受理");
    b.screenshots("filed-zh-Hant");

    b.click("a.button[href='/track']");
    b.wait_for_text("#status", "已受理，待分派");
    assert!(b.body_text().contains("北京時間"), "{}", b.body_text());
    b.screenshots("track-zh-Hant");
    b.set_width(common::browser::PHONE_WIDTH);
    assert!(!b.overflows_horizontally(), "the tracking page scrolls sideways at 390 px");
    b.reset_width();
}
