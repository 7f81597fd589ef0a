//! Every journey of the people the pages serve, walked end to end in a real browser on a phone
//! (390 px) and on a desktop (1280 px), in Chinese and in English: an investor files and tracks,
//! the coordination office assigns, the department asks, the investor answers with a file, the
//! department replies through preview and confirmation, the investor rates; the commission runs
//! a ballot round from the new-round form to the public results; the administrator reads the
//! assessment and opens the accounts and calendar pages. On every page: the page's language,
//! no sideways scrolling, and (on the phone walks, at both widths) a screenshot checked by axe.
//! The hotline's journey and the lost code have their own walks (pages_staff, pages_investor).

mod common;

use common::browser::{Browser, PHONE_WIDTH};
use common::walk::{fill_public_complaint, staff_sign_in, staff_sign_out};
use common::{html_lang, spawn_app_with};
use serde_json::json;

/// A `datetime-local` value in Beijing time, `minutes` from now.
fn beijing(minutes: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::minutes(minutes);
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y-%m-%dT%H:%M").to_string()
}

/// Clicks a button that asks for confirmation, and confirms.
fn confirm_click(b: &Browser, css: &str) {
    b.click(css);
    b.accept_dialog();
}

fn walk(width: u32, lang: &str) {
    let app = spawn_app_with(|s| {
        s.ballots.attempts_per_client_per_minute = 1000;
        s.complaints.tracking_lookups_per_client_per_minute = 1000;
    });
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "jra");
    let other_dept = app.create_department(&admin, "jrb");
    let coordinator = app.staff_account(&admin, "coordinator", None);
    let clerk = app.staff_account(&admin, "department", Some(&dept));
    let commission = app.staff_account(&admin, "commission", None);
    let administrator = app.staff_account(&admin, "admin", None);
    let b = Browser::start();
    b.set_width(width);
    // Each page as its reader meets it: in the language chosen, nothing to scroll sideways.
    let page = |what: &str| {
        assert_eq!(b.script("return document.documentElement.lang"), html_lang(lang), "{what} on {}", b.path());
        assert!(!b.overflows_horizontally(), "{what} scrolls sideways at {width} px");
        if width == PHONE_WIDTH {
            b.screenshots(&format!("walk-{what}-{lang}"));
        }
    };

    // The investor files, keeps the number and code, and tracks.
    b.goto(&app.url(&format!("/?lang={lang}")));
    page("form");
    fill_public_complaint(&b, lang, &dept, "Permit not decided / 施工许可逾期未决");
    b.click("form[data-validate] button[type=submit]");
    let number = b.text("#tracking-number");
    assert_eq!(b.text("#access-code").len(), 24);
    page("filed");
    b.click("a.button[href='/track']");
    b.find("#status");
    page("track-received");

    // The coordination office assigns it from its queue.
    staff_sign_in(&b, &app, &coordinator, "/staff/inbox");
    b.goto(&app.url(&format!("/staff/inbox?lang={lang}")));
    let queued = format!("#queue-{number}");
    assert_eq!(b.value(&format!("{queued} select")), dept, "the department the investor named is preselected");
    page("queue");
    b.click(&format!("{queued} button[type=submit]"));
    b.find("#done");
    assert_eq!(b.count(&queued), 0);
    staff_sign_out(&b);

    // The department asks for a document.
    staff_sign_in(&b, &app, &clerk, "/staff/inbox");
    b.goto(&app.url(&format!("/staff/inbox?lang={lang}")));
    page("inbox");
    b.click(&format!("#row-{number} a"));
    b.find("#request-info-form");
    page("complaint");
    b.click("#request-info-form summary");
    let question = "请提供施工许可申请的受理回执扫描件。Please send a scan of the application receipt.";
    b.type_into("#f-request_info-question", question);
    b.click("#request-info-form button[type=submit]");
    b.find("#done");
    page("asked");
    staff_sign_out(&b);

    // The investor answers with the scan; the conversation shows question, file and answer.
    b.goto(&app.url(&format!("/track?lang={lang}")));
    assert_eq!(b.text("#pending-question"), question);
    page("track-question");
    b.type_into("#f-answer", "The receipt is attached.");
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("receipt-scan.txt");
    std::fs::write(&scan, "Receipt of the application, 2026-08-01.\n").unwrap();
    b.type_into_file("#f-answer-files", &scan);
    b.click_to_next_page("form[action='/track/answer'] button[type=submit]");
    assert_eq!(b.path(), "/track");
    let thread = b.text("#thread");
    assert!(thread.contains(question) && thread.contains("receipt-scan.txt"), "{thread}");
    assert!(thread.contains("The receipt is attached."), "{thread}");
    assert_eq!(b.count("#pending-question"), 0);
    page("track-answered");

    // The department replies: a preview in the investor's language, then the confirmation.
    staff_sign_in(&b, &app, &clerk, "/staff/inbox");
    b.goto(&app.url(&format!("/staff/inbox?lang={lang}")));
    b.click(&format!("#row-{number} a"));
    let reply = "施工许可已于2026年11月20日批准。The permit was granted on 2026-11-20.";
    b.type_into("#f-reply-text", reply);
    b.click("#outcome-resolved");
    b.click("#reply-form button[type=submit]");
    b.find("#as-tracked");
    assert_eq!(b.text("#preview-text"), reply);
    page("reply-preview");
    b.click("#confirm-reply button");
    b.find("#reply-text");
    page("replied");
    staff_sign_out(&b);

    // The investor reads the reply and rates it.
    b.goto(&app.url(&format!("/track?lang={lang}")));
    assert_eq!(b.text("#reply-text"), reply);
    page("track-replied");
    b.click("#rating-satisfied");
    b.click("form[action='/track/rate'] button[type=submit]");
    b.find("#rating");
    page("track-rated");

    // The commission builds a round on the form: every department, a period, k in words.
    staff_sign_in(&b, &app, &commission, "/staff/rounds");
    b.goto(&app.url(&format!("/staff/rounds?lang={lang}")));
    page("rounds");
    b.type_into("#f-title", "2026 年度行风评议 / 2026 conduct evaluation");
    b.click("[data-select-all] button[data-check='all']");
    b.script(&format!("document.getElementById('f-opens_at').value = '{}';", beijing(-2)));
    b.script(&format!("document.getElementById('f-closes_at').value = '{}';", beijing(60)));
    b.type_into("#f-min_group_size", "3");
    b.click("#create-round button[type=submit]");
    b.find("#revocation-note");
    b.click("#back-to-round");
    b.find("#round-status");
    let round_path = b.path();
    let round_id = round_path.rsplit('/').next().unwrap().to_string();
    page("round-draft");

    // The roll, pasted, each voter in their language; the letters printed once, in it.
    let roll = "name,category,contact,departments,language\n\
        Voter One,enterprise_served,paper,jra;jrb,en\n\
        投票人二,enterprise_served,paper,jra;jrb,zh\n\
        投票人三,enterprise_served,paper,jra;jrb,\n";
    b.type_into("#f-roll_text", roll);
    b.click("#import-form button[type=submit]");
    b.find("#notice");
    assert_eq!(b.text("#count-voters"), "3");
    page("roll-imported");
    confirm_click(&b, "#issue-codes");
    b.find("#letters-note");
    let codes: Vec<String> = b
        .script("return Array.from(document.querySelectorAll('section.letter .code')).map(e => e.textContent)")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 3);
    let languages = b.script("return Array.from(document.querySelectorAll('section.letter')).map(e => e.lang)");
    assert_eq!(languages, json!(["en", "zh-Hans", "zh-Hans"]), "letters sorted by name, each in its voter's language");
    b.click("#back-to-round");
    b.find("#round-status");

    // Opened (the trustees' shares printed once); three ballots; closed, unsealed, published.
    confirm_click(&b, "#open-round");
    b.find("#shares-note");
    let shares: Vec<String> = b
        .script("return Array.from(document.querySelectorAll('section.key-share .share')).map(e => e.textContent)")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    b.click("#back-to-round");
    b.find("#close-round");
    page("round-open");
    let answers = json!({"overall": "satisfied", "efficiency": "basically_satisfied", "attitude": "satisfied", "integrity": "satisfied"});
    for code in &codes {
        let ratings: Vec<_> =
            [&dept, &other_dept].iter().map(|d| json!({"department_id": d, "answers": answers})).collect();
        let r = app.post(&format!("/api/v1/ballots/{round_id}/cast"), None, &json!({"code": code, "ratings": ratings}));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    confirm_click(&b, "#close-round");
    b.find("#f-key_shares");
    b.type_into("#f-key_shares", &format!("{}\n{}", shares[0], shares[1]));
    b.click("#unseal-round");
    b.find("#tally");
    page("round-closed");
    confirm_click(&b, "#publish-round");
    b.find("#public-results");
    b.click("#public-results");
    b.find("#codes-used");
    assert_eq!(b.text("#codes-used"), "3");
    page("results");
    b.goto(&app.url(&format!("{round_path}?lang={lang}")));
    staff_sign_out(&b);

    // The administrator reads the year's assessment and reaches the accounts and the calendar.
    staff_sign_in(&b, &app, &administrator, "/staff/assessment");
    b.goto(&app.url(&format!("/staff/assessment?lang={lang}")));
    assert!(b.text("#ranking").contains("jra"), "{}", b.text("#ranking"));
    page("assessment");
    b.goto(&app.url(&format!("/staff/accounts?lang={lang}")));
    b.find("h1");
    page("accounts");
    b.goto(&app.url(&format!("/staff/calendar?lang={lang}")));
    b.find("h1");
    page("calendar");
}

#[test]
fn every_journey_on_a_phone_in_chinese() {
    walk(PHONE_WIDTH, "zh");
}

#[test]
fn every_journey_on_a_phone_in_english() {
    walk(PHONE_WIDTH, "en");
}

#[test]
fn every_journey_on_a_desktop_in_chinese() {
    walk(1280, "zh");
}

#[test]
fn every_journey_on_a_desktop_in_english() {
    walk(1280, "en");
}
