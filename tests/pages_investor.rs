//! The investor's pages in a real browser (headless Chromium): filing in English with a file,
//! the access code shown once, tracking, rating the reply, the language switch, 390 px layouts,
//! and the messages of client- and server-side validation in the chosen language.

mod common;

use common::browser::Browser;
use common::spawn_app;
use common::walk::fill_public_complaint as fill_complaint;
use serde_json::json;

#[test]
fn an_investor_files_in_english_tracks_and_rates_the_reply() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let department = app.staff_token(&admin, "department", Some(&dept));
    let b = Browser::start();

    // The landing page in English, remembered afterwards.
    b.goto(&app.url("/?lang=en"));
    assert_eq!(b.text("h1"), "Complaint by a foreign investor");
    b.screenshots("form-en");
    b.set_width(common::browser::PHONE_WIDTH);
    assert!(!b.overflows_horizontally(), "the form scrolls sideways at 390 px");
    b.reset_width();

    // Client-side validation speaks English: an empty required field says so before posting.
    b.click("form[data-validate] button[type=submit]");
    let message = b.script("return document.getElementById('f-complainant-name').validationMessage;");
    assert_eq!(message, json!("This field is required."));
    assert_eq!(b.path(), "/", "an invalid form was posted");

    // Server-side validation, with the browser's checks switched off: the field is marked and
    // the message is in English.
    fill_complaint(&b, "en", &dept, "Permit not decided");
    b.script("document.querySelector('form[data-validate]').noValidate = true; document.getElementById('f-complainant-email').type = 'text';");
    b.type_into("#f-complainant-email", "not-an-email");
    b.click("form[data-validate] button[type=submit]");
    assert_eq!(b.text("#e-complainant-email"), "Enter a valid email address.");
    assert!(b.text("#error-summary").contains("Please correct the marked fields"));
    // What was typed is kept.
    assert_eq!(b.value("#f-complainant-company"), "Hunan Precision Parts Co., Ltd.");
    b.screenshots("form-error-en");

    // A good filing with a file attached.
    b.type_into("#f-complainant-email", "anna.mueller@example.de");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("permit-application.txt");
    std::fs::write(&file, "Application for a construction permit, 2026-08-01.\n").unwrap();
    let input = "#f-attachments";
    b.type_into_file(input, &file);
    b.click("form[data-validate] button[type=submit]");
    let number = b.text("#tracking-number");
    let code = b.text("#access-code");
    assert!(number.contains("-2026-"), "{number}");
    assert!(code.len() >= 10, "{code}");
    assert!(b.body_text().contains("shown only this once"));
    assert!(b.body_text().contains("Reply due by"));
    b.screenshots("filed-en");
    // On a narrow phone the code's groups stay whole (a line breaks only after a dash), and
    // the code reads as it was issued.
    b.set_width(320);
    let split_groups = b.script(
        "return [...document.querySelectorAll('#access-code .code-group, #tracking-number .code-group')]\
         .filter(g => g.getClientRects().length > 1).map(g => g.textContent);",
    );
    assert_eq!(split_groups, json!([]), "a group of the code broke across lines at 320 px");
    assert_eq!(b.count("#access-code .code-group"), 5);
    assert_eq!(b.text("#access-code"), code);
    b.reset_width();
    // Printed: the number, the code and what comes next; not the menus, links or buttons.
    assert_eq!(b.script("return document.querySelector('button[data-print]').hidden;"), json!(false));
    b.emulate_media("print");
    assert!(!b.is_rendered("header.top"));
    assert!(!b.is_rendered("button[data-print]"));
    assert!(!b.is_rendered("a.button[href='/track']"));
    assert!(b.is_rendered("#access-code"));
    assert!(b.is_rendered("section.secret"));
    b.emulate_media("");

    // The tracking page, opened by the confirmation's session.
    b.click("a.button[href='/track']");
    b.wait_for_text("#status", "Received, awaiting assignment");
    assert!(b.body_text().contains("permit-application.txt"));
    // Escaped, not interpreted.
    assert_eq!(b.count("b"), 0);
    b.screenshots("track-en");
    b.emulate_media("print");
    assert!(!b.is_rendered("form[action='/track/leave']"), "the printed tracking page shows no forms");
    assert!(b.is_rendered("#status-heading"));
    b.emulate_media("");
    b.set_width(common::browser::PHONE_WIDTH);
    assert!(!b.overflows_horizontally(), "the tracking page scrolls sideways at 390 px");
    b.reset_width();

    // Closing the session and opening it again with the number and code.
    b.click("form[action='/track/leave'] button");
    b.find("#f-access-code");
    b.type_into("#f-tracking-number", &number.to_lowercase());
    b.type_into("#f-access-code", "WRONG-CODE");
    b.click("form[action='/track'] button");
    assert!(b.text("#error-summary").contains("Not found"), "{}", b.body_text());
    b.screenshots("lookup-en");
    b.type_into("#f-tracking-number", &number);
    b.type_into("#f-access-code", &code);
    b.click("form[action='/track'] button");
    b.wait_for_text("#status", "Received, awaiting assignment");

    // The coordination office assigns, the department replies (their pages have their own tests).
    let id = app.get(&format!("/api/v1/complaints?q={number}"), Some(&coordinator)).json()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}))
            .status,
        200
    );
    let r = app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&department),
        &json!({"text": "The permit was granted on 2026-11-20.", "outcome": "resolved"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // The investor sees the reply and rates it.
    b.goto(&app.url("/track"));
    assert_eq!(b.text("#status"), "Replied");
    assert_eq!(b.text("#reply-text"), "The permit was granted on 2026-11-20.");
    b.screenshots("track-replied-en");
    b.click("#rating-satisfied");
    b.type_into("#f-comment", "Quick and clear, thank you.");
    b.click("form[action='/track/rate'] button[type=submit]");
    b.wait_for_text("#status", "Closed");
    assert!(b.text("#rating").starts_with("Satisfied"), "{}", b.text("#rating"));

    // The same page in Chinese, and the choice is remembered.
    b.click("a.lang");
    b.wait_for_text("#status", "已办结");
    assert!(b.text("#rating").starts_with("满意"));
    b.screenshots("track-closed-zh");
    b.goto(&app.url("/"));
    assert_eq!(b.text("h1"), "外商投资企业投诉");
    b.screenshots("form-zh");
    b.goto(&app.url("/track"));
    b.click("form[action='/track/leave'] button");
    b.find("#f-access-code");
    b.screenshots("lookup-zh");

    // Filing in Chinese shows the code once, in Chinese.
    b.goto(&app.url("/"));
    fill_complaint(&b, "zh", &dept, "施工许可逾期未决");
    b.click("form[data-validate] button[type=submit]");
    assert!(b.text("#tracking-number").contains("-2026-"));
    assert!(b.body_text().contains("查询码只显示这一次"));
    b.screenshots("filed-zh");
    b.click("a.button[href='/track']");
    b.wait_for_text("#status", "已受理，待分派");
    b.screenshots("track-zh");
}

#[test]
fn the_access_code_never_reaches_a_url_or_a_cached_page() {
    let app = spawn_app();
    let r = app.request("GET", "/", None, &[("Accept-Language", "en-GB,en;q=0.9")], None);
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Complaint by a foreign investor"), "Accept-Language chooses English");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(!r.body.contains("<script>"), "no inline script");
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("strict-transport-security"), None, "HSTS over plain HTTP means nothing");
    let behind_tls = app.request("GET", "/", None, &[("X-Forwarded-Proto", "https")], None);
    assert_eq!(behind_tls.header("strict-transport-security"), Some("max-age=31536000"));
    // The lookup is a POST: the code travels in the body, never in a URL.
    let r = app.get("/track", None);
    assert!(r.body.contains("method=\"post\" action=\"/track\""), "{}", r.body);
    // A form posted from another site is refused.
    let r = app.request(
        "POST",
        "/track",
        None,
        &[("Origin", "https://evil.example")],
        Some(("application/x-www-form-urlencoded", b"tracking_number=CZ-2026-000001&access_code=x".to_vec())),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn a_file_over_the_limit_is_refused_and_what_was_typed_is_kept() {
    let app = common::spawn_app_with(|s| s.complaints.attachment_max_bytes = 1024);
    let boundary = "----anshang-test-boundary";
    let mut body = Vec::new();
    for (name, value) in
        [("complainant.name", "Anna Müller"), ("complainant.company", "Kept Company GmbH"), ("subject", "Permit")]
    {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"big.txt\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes());
    body.extend_from_slice(&vec![b'x'; 2048]);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r =
        app.request("POST", "/?lang=en", None, &[], Some((&format!("multipart/form-data; boundary={boundary}"), body)));
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("The file is too large."), "{}", r.body);
    assert!(r.body.contains("value=\"Kept Company GmbH\""), "the typed company is kept: {}", r.body);
}

/// An investor who uses only the keyboard files a complaint with a file and reads the tracking
/// page: Tab from field to field typing the answers, the arrows in a list, Space on a box, Enter
/// to send and to follow the link. (The file is given to the file control as WebDriver does;
/// a keyboard user opens the same control's chooser with Space.)
#[test]
fn an_investor_files_with_a_file_and_tracks_with_the_keyboard_only() {
    use common::browser::keys::{DOWN, ENTER, SPACE};
    let app = spawn_app();
    let b = Browser::start();
    b.goto(&app.url("/?lang=en"));
    for (field, text) in [
        ("#f-complainant-name", "Anna Müller"),
        ("#f-complainant-company", "Hunan Precision Parts Co., Ltd."),
        ("#f-complainant-nationality", "Germany"),
        ("#f-complainant-email", "anna.mueller@example.de"),
        ("#f-complainant-phone", "+49 30 1234567"),
        ("#f-project", "Chenzhou plant expansion, phase 2"),
    ] {
        b.tab_to(field);
        b.type_keys(text);
    }
    // A list answered with the arrows: the second kind of matter.
    b.tab_to("#f-matter_type");
    b.press(&[DOWN]);
    assert_eq!(b.value("#f-matter_type"), "investment_environment", "focus on {}", b.focused());
    for (field, text) in [
        ("#f-subject", "Power connection delayed"),
        ("#f-facts", "Applied on 2026-08-01; no connection date since."),
        ("#f-request", "A connection date in writing."),
    ] {
        b.tab_to(field);
        b.type_keys(text);
    }
    b.tab_to("#f-confidential");
    b.press(&[SPACE]);
    assert_eq!(b.script("return document.getElementById('f-confidential').checked;"), json!(true));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("application.txt");
    std::fs::write(&file, "Connection application, 2026-08-01.\n").unwrap();
    b.tab_to("#f-attachments");
    b.type_into_file("#f-attachments", &file);
    b.tab_to("form[data-validate] button[type=submit]");
    b.press(&[ENTER]);
    b.find("#tracking-number");
    assert!(b.text("#tracking-number").contains("-2026-"));

    b.tab_to("a.button[href='/track']");
    b.press(&[ENTER]);
    b.wait_for_text("#status", "Received, awaiting assignment");
    assert!(b.body_text().contains("application.txt") && b.body_text().contains("Power connection delayed"));
    // How the date was worked out: Enter on the summary opens it; the day-by-day table, which
    // scrolls sideways on a phone, is a Tab stop of its own.
    b.tab_to("details > summary");
    b.press(&[ENTER]);
    b.tab_to(".table-wrap");
}

/// The complaint form as a browser posts it, with only these fields filled.
fn post_form(app: &common::TestApp, lang: &str, fields: &[(&str, &str)]) -> common::Resp {
    let boundary = "----anshang-test-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    app.request("POST", &format!("/?lang={lang}"), None, &[], Some((&content_type, body)))
}

/// The links of the error summary: (target, text).
fn summary_links(page: &str) -> Vec<(String, String)> {
    let summary = page.split("id=\"error-summary\"").nth(1).expect("an error summary").split("</div>").next().unwrap();
    summary
        .split("<a href=\"")
        .skip(1)
        .map(|link| {
            let (target, rest) = link.split_once("\">").unwrap();
            (target.to_string(), rest.split("</a>").next().unwrap().to_string())
        })
        .collect()
}

#[test]
fn the_error_summary_names_each_field_it_links_to_and_the_title_says_error() {
    let app = spawn_app();
    let r = post_form(&app, "en", &[("complainant.company", "Kept Company GmbH")]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("<title>Error: Complaint"), "{}", &r.body[..400.min(r.body.len())]);
    let links = summary_links(&r.body);
    assert!(links.len() >= 6, "{links:?}");
    for (target, text) in &links {
        assert!(target.starts_with("#f-"), "{target}");
        // Each line names its field: "<label>: <message>", never the message alone.
        let (label, message) = text.split_once(": ").unwrap_or_else(|| panic!("no field named in {text:?}"));
        assert!(!label.is_empty() && !message.is_empty(), "{text}");
        // The link leads to the input of that label.
        let id = &target[1..];
        assert!(r.body.contains(&format!("<label for=\"{id}\">{label}")), "{label} does not label #{id}");
    }
    assert!(links.contains(&("#f-complainant-name".into(), "Your name: This field is required.".into())), "{links:?}");
    assert!(links.contains(&("#f-subject".into(), "Subject: This field is required.".into())), "{links:?}");

    let r = post_form(&app, "zh", &[("complainant.company", "保留的公司")]);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("<title>错误："), "{}", &r.body[..400.min(r.body.len())]);
    let links = summary_links(&r.body);
    assert!(links.contains(&("#f-complainant-name".into(), "姓名：此项必填。".into())), "{links:?}");
}

#[test]
fn a_browser_reads_an_error_page_in_its_language_and_an_api_client_gets_a_problem_document() {
    let app = common::spawn_app_with(|s| s.server.json_limit_bytes = 4096);
    let page = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"), ("Accept-Language", "en-GB,en;q=0.9")];

    // A mistyped address: a page with the way on and the language switch.
    let r = app.request("GET", "/complaint", None, &page, None);
    assert_eq!(r.status, 404);
    assert!(r.content_type.starts_with("text/html"), "{}", r.content_type);
    assert!(r.body.contains("<h1>Not found.</h1>"), "{}", r.body);
    assert!(r.body.contains("The address may be mistyped"), "{}", r.body);
    assert!(r.body.contains("complaint?lang=zh\" lang=\"zh-Hans\""), "the language switch: {}", r.body);
    assert!(r.header("x-request-id").is_some());
    let r = app.request("GET", "/complaint?lang=zh", None, &page, None);
    assert!(r.body.contains("<h1>未找到。</h1>") && r.body.contains("<title>错误："), "{}", r.body);

    // Too much posted to a page's form: the page says what to do.
    let big = format!("tracking_number={}&access_code=x", "A".repeat(8000));
    let r = app.request(
        "POST",
        "/track",
        None,
        &page,
        Some(("application/x-www-form-urlencoded", big.clone().into_bytes())),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.content_type.starts_with("text/html"), "{}", r.content_type);
    assert!(r.body.contains("Shorten the text"), "{}", r.body);

    // API clients, and the API's paths whatever the client, keep problem+json.
    let r = app.request("GET", "/complaint", None, &[("Accept", "application/json")], None);
    assert_eq!(r.status, 404);
    assert!(r.content_type.starts_with("application/problem+json"), "{}", r.content_type);
    let r = app.request("GET", "/api/v1/no-such-thing", None, &page, None);
    assert_eq!(r.status, 404);
    assert!(r.content_type.starts_with("application/problem+json"), "{}", r.content_type);
    let r = app.request(
        "POST",
        "/track",
        None,
        &[("Accept", "*/*")],
        Some(("application/x-www-form-urlencoded", big.into_bytes())),
    );
    assert_eq!(r.status, 413);
    assert!(r.content_type.starts_with("application/problem+json"), "{}", r.content_type);
}

/// The `<main>` of a page: what the reader reads, without the layout.
fn main_of(body: &str) -> &str {
    body.split("<main id=\"main\">").nth(1).and_then(|m| m.split("</main>").next()).expect("a page")
}

/// The text of the element with `id`, tags removed.
fn text_of(body: &str, id: &str) -> String {
    let start = body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let inner = &body[start..];
    let inner = &inner[inner.find('>').unwrap() + 1..];
    let inner = &inner[..inner.find("</code>").unwrap()];
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

#[test]
fn an_investor_who_lost_the_code_sets_a_new_one_through_the_address_given_at_filing() {
    // The delivery loop stays quiet: a delivered email's body is cleared, and the test reads it.
    let app = common::spawn_app_with(|s| {
        s.complaints.tracking_lookups_per_client_per_minute = 1000;
        s.mail.deliver_interval_secs = 3600;
    });
    let filed = app.post("/api/v1/complaints", None, &common::complaint_json("en")).json();
    let number = filed["tracking_number"].as_str().unwrap().to_string();
    let old_code = filed["access_code"].as_str().unwrap().to_string();
    let form = |path: &str, pairs: &[(&str, &str)]| {
        let body = serde_urlencoded::to_string(pairs).unwrap().into_bytes();
        app.request("POST", path, None, &[], Some(("application/x-www-form-urlencoded", body)))
    };
    let reads = |code: &str| {
        app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", code)], None).status
    };

    // A wrong code: the page says what to check and offers the way to a new code.
    let r = form("/track?lang=en", &[("tracking_number", &number), ("access_code", "WRONG-CODE")]);
    assert_eq!(r.status, 404);
    assert!(r.body.contains("id=\"what-to-check\"") && r.body.contains("looks like CZ-2026-000123"), "{}", r.body);
    assert!(r.body.contains(&format!("href=\"/track/recover?number={number}\"")), "{}", r.body);
    let page = app.request("GET", &format!("/track/recover?number={number}&lang=en"), None, &[], None);
    assert!(page.body.contains(&format!("value=\"{number}\"")), "the number is filled in: {}", page.body);

    // The answer never says whether the number exists or the address matched.
    let reset_mails = || -> Vec<(String, String)> {
        use anshang::db::schema::outbox;
        use diesel::prelude::*;
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
        outbox::table
            .filter(outbox::notice.eq("access_code_reset"))
            .select((outbox::recipient, outbox::text_body.assume_not_null()))
            .load(&mut pool.get().unwrap())
            .unwrap()
    };
    let wrong_address =
        form("/track/recover?lang=en", &[("tracking_number", &number), ("email", "someone.else@example.com")]);
    let unknown_number =
        form("/track/recover?lang=en", &[("tracking_number", "CZ-2026-999999"), ("email", "anna.mueller@example.de")]);
    assert_eq!(reset_mails().len(), 0, "nothing is sent for a wrong address or number");
    let right = form(
        "/track/recover?lang=en",
        &[("tracking_number", &number.to_lowercase()), ("email", " Anna.Mueller@Example.DE ")],
    );
    for r in [&wrong_address, &unknown_number, &right] {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(main_of(&r.body), main_of(&right.body), "the answers differ");
    }
    assert!(right.body.contains("If the tracking number and the address match"), "{}", right.body);
    let mails = reset_mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].0, "anna.mueller@example.de");
    let link = mails[0].1.lines().find(|l| l.contains("/track/reset?token=")).expect("the link").trim().to_string();
    let path = &link[link.find("/track/reset").unwrap()..];
    assert!(!mails[0].1.contains(&old_code), "the email carries no code");

    // Following the link changes nothing until the investor confirms.
    let confirm = app.request("GET", path, None, &[], None);
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(confirm.body.contains("action=\"/track/reset\""), "{}", confirm.body);
    assert_eq!(reads(&old_code), 200, "the old code still works before the confirmation");
    let token = path.split("token=").nth(1).unwrap().split('&').next().unwrap();
    let done = form("/track/reset", &[("token", token)]);
    assert_eq!(done.status, 200, "{}", done.body);
    let new_code = text_of(&done.body, "access-code");
    assert_eq!(new_code.len(), 24, "{new_code}");
    assert!(done.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("anshang_track=")));
    assert_eq!(reads(&old_code), 404, "the old code stops working");
    assert_eq!(reads(&new_code), 200, "the new code works");
    let view =
        app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", &new_code)], None).json();
    assert!(view["history"].as_array().unwrap().iter().any(|e| e["action"] == "access_code_reset"), "{view}");

    // A link works once.
    let again = form("/track/reset", &[("token", token)]);
    assert_eq!(again.status, 404);
    assert!(again.body.contains("id=\"reset-invalid\""), "{}", again.body);
    assert_eq!(reads(&new_code), 200);
    assert_eq!(app.request("GET", path, None, &[], None).status, 404);

    // Within the address's daily budget (five investor emails, the receipt and the link among them).
    for _ in 0..6 {
        let r = form("/track/recover", &[("tracking_number", &number), ("email", "anna.mueller@example.de")]);
        assert_eq!(r.status, 200);
    }
    assert_eq!(reset_mails().len(), 4, "at most five investor emails a day to one address");
}

#[test]
fn the_recovery_form_reports_missing_or_malformed_fields() {
    let app = spawn_app();
    let body = serde_urlencoded::to_string([("tracking_number", ""), ("email", "not-an-address")]).unwrap();
    let r = app.request(
        "POST",
        "/track/recover?lang=en",
        None,
        &[],
        Some(("application/x-www-form-urlencoded", body.into_bytes())),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"e-tracking_number\"") && r.body.contains("id=\"e-email\""), "{}", r.body);
    assert!(r.body.contains("value=\"not-an-address\""), "what was typed is kept: {}", r.body);
}

/// The journey in a browser, as an investor walks it on a phone (390 px) and a desktop (1280 px),
/// in Chinese and in English: a wrong code, "lost your code?", the email's link (in the
/// complaint's language), the confirmation, the new code, the tracking page — no page scrolls
/// sideways, and each is screenshot and checked for accessibility at both widths.
fn a_lost_code_is_recovered_by_email(width: u32, lang: &str) {
    // The delivery loop stays quiet: a delivered email's body is cleared, and the test reads it.
    let app = common::spawn_app_with(|s| s.mail.deliver_interval_secs = 3600);
    let filed = app.post("/api/v1/complaints", None, &common::complaint_json(lang)).json();
    let number = filed["tracking_number"].as_str().unwrap().to_string();
    let b = Browser::start();
    b.set_width(width);
    let fits = |what: &str| assert!(!b.overflows_horizontally(), "{what} scrolls sideways at {width} px");
    b.goto(&app.url(&format!("/track?lang={lang}")));
    b.type_into("#f-tracking-number", &number);
    b.type_into("#f-access-code", "AAAA-BBBB-CCCC-DDDD-EEEE");
    b.click("form[action='/track'] button");
    b.find("#what-to-check");
    assert!(b.text("#what-to-check").contains("CZ-2026-000123"), "{}", b.text("#what-to-check"));
    assert_eq!(b.script("return document.documentElement.lang"), common::html_lang(lang));
    fits("the wrong-code page");
    b.screenshots(&format!("lookup-wrong-code-{lang}"));
    b.click("#lost-code a");
    b.wait_for_path("/track/recover");
    assert_eq!(b.value("#f-tracking_number"), number);
    b.type_into("#f-email", "anna.mueller@example.de");
    fits("the recovery form");
    b.screenshots(&format!("recover-{lang}"));
    b.click("form[action='/track/recover'] button[type=submit]");
    b.find("#recover-sent");
    fits("the recovery answer");
    b.screenshots(&format!("recover-sent-{lang}"));

    let link = {
        use anshang::db::schema::outbox;
        use diesel::prelude::*;
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
        let text: String = outbox::table
            .filter(outbox::notice.eq("access_code_reset"))
            .select(outbox::text_body.assume_not_null())
            .first(&mut pool.get().unwrap())
            .unwrap();
        let once = if lang == "zh" { "只能使用一次" } else { "works once" };
        assert!(text.contains(once), "the email is in the complaint's language: {text}");
        text.lines().find(|l| l.contains("/track/reset?token=")).unwrap().trim().to_string()
    };
    b.goto(&app.url(&link[link.find("/track/reset").unwrap()..]));
    fits("the reset confirmation");
    b.screenshots(&format!("reset-confirm-{lang}"));
    b.click("form[action='/track/reset'] button[type=submit]");
    b.find("#access-code");
    let code = b.text("#access-code");
    assert_eq!(code.len(), 24, "{code}");
    fits("the new code");
    b.screenshots(&format!("reset-done-{lang}"));
    // Shown once after a post, yet it switches: the page posts the number and code back.
    let other = if lang == "zh" { "en" } else { "zh" };
    b.switch_language(other);
    assert_eq!(b.text("#access-code"), code, "the same new code, in the other language");
    b.switch_language(lang);
    assert_eq!(b.text("#access-code"), code);
    b.click("a.button[href='/track']");
    b.find("#status");
    assert_eq!(b.path(), "/track");
    fits("the tracking page");
}

#[test]
fn an_investor_recovers_a_lost_code_by_email_on_a_phone_in_chinese() {
    a_lost_code_is_recovered_by_email(common::browser::PHONE_WIDTH, "zh");
}

#[test]
fn an_investor_recovers_a_lost_code_by_email_on_a_phone_in_english() {
    a_lost_code_is_recovered_by_email(common::browser::PHONE_WIDTH, "en");
}

#[test]
fn an_investor_recovers_a_lost_code_by_email_on_a_desktop_in_chinese() {
    a_lost_code_is_recovered_by_email(1280, "zh");
}

#[test]
fn an_investor_recovers_a_lost_code_by_email_on_a_desktop_in_english() {
    a_lost_code_is_recovered_by_email(1280, "en");
}

/// The department asks for scans; the investor answers with the file in the same form; the
/// tracking page then shows the conversation in order (question, file, answer, reply), on a
/// phone and a desktop, in English and Chinese.
#[test]
fn an_investor_answers_with_files_and_reads_the_conversation_in_order() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let department = app.staff_token(&admin, "department", Some(&dept));
    let filed = app.post("/api/v1/complaints", None, &common::complaint_json("en")).json();
    let number = filed["tracking_number"].as_str().unwrap().to_string();
    let code = filed["access_code"].as_str().unwrap().to_string();
    let id = filed["id"].as_str().unwrap().to_string();
    let ok = |r: common::Resp| assert_eq!(r.status, 200, "{}", r.body);
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept})));
    ok(app.post(
        &format!("/api/v1/complaints/{id}/request-info"),
        Some(&department),
        &json!({"question": "Please send a scan of the application receipt."}),
    ));

    let b = Browser::start();
    b.goto(&app.url("/track?lang=en"));
    b.type_into("#f-tracking-number", &number);
    b.type_into("#f-access-code", &code);
    b.click("form[action='/track'] button");
    b.wait_for_text("#status", "Waiting for your information");
    assert_eq!(b.text("#thread li.kind-question .text"), "Please send a scan of the application receipt.");

    // An answer without text is refused, and the file chosen is not stored without it.
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("receipt-scan.txt");
    std::fs::write(&scan, "Receipt no. 2026-0801-17, stamped by the land bureau.\n").unwrap();
    b.script("document.querySelector('form[action=\"/track/answer\"]').noValidate = true;");
    b.type_into_file("#f-answer-files", &scan);
    b.click("form[action='/track/answer'] button[type=submit]");
    b.find("#e-answer");
    assert_eq!(b.text("#status"), "Waiting for your information");
    assert!(b.text("#e-answer").contains("required"), "{}", b.body_text());
    assert_eq!(app.get(&format!("/api/v1/complaints/{id}"), Some(&department)).json()["attachments"], json!([]));

    // The answer with the scan, in one post.
    b.type_into("#f-answer", "The scan is attached; the receipt number is 2026-0801-17.");
    b.type_into_file("#f-answer-files", &scan);
    b.click("form[action='/track/answer'] button[type=submit]");
    b.wait_for_text("#status", "Being handled by the department");
    let view = app.get(&format!("/api/v1/complaints/{id}"), Some(&department)).json();
    assert_eq!(view["status"], "assigned", "{view}");
    assert_eq!(view["attachments"][0]["filename"], "receipt-scan.txt", "{view}");

    ok(app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&department),
        &json!({"text": "The permit was granted on 2026-11-20.", "outcome": "resolved"}),
    ));
    b.goto(&app.url("/track"));
    let kinds = b.script("return [...document.querySelectorAll('#thread > li')].map(li => li.className);");
    assert_eq!(
        kinds,
        json!([
            "from-office kind-question",
            "from-investor kind-file",
            "from-investor kind-answer",
            "from-office kind-reply"
        ])
    );
    assert_eq!(b.text("#thread li.kind-answer .text"), "The scan is attached; the receipt number is 2026-0801-17.");
    assert_eq!(b.text("#thread li.kind-reply .text"), "The permit was granted on 2026-11-20.");
    assert!(b.text("#thread li.kind-reply .meta").contains("Resolved"));
    // The file in the thread opens.
    let href = b.script("return document.querySelector('#thread li.kind-file a').getAttribute('href');");
    assert!(href.as_str().unwrap().starts_with("/track/attachments/"), "{href}");
    for width in [390, 1280] {
        b.set_width(width);
        assert!(!b.overflows_horizontally(), "the conversation scrolls sideways at {width} px");
    }
    b.reset_width();
    b.screenshots("track-thread-en");

    // A contested reply keeps the first reply's text beside the next one.
    b.click("a.lang[hreflang='zh-Hans']");
    b.wait_for_text("#thread-heading", "往来记录");
    assert!(b.text("#thread li.kind-question .meta").starts_with("办理单位 请您补充材料"));
    assert!(b.text("#thread li.kind-reply .meta").contains("已解决"));
    b.screenshots("track-thread-zh");
    let r = app.request(
        "POST",
        &format!("/api/v1/track/{number}/contest"),
        None,
        &[("X-Access-Code", code.as_str())],
        Some(("application/json", br#"{"reason": "The permit covers only half the site."}"#.to_vec())),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    ok(app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept})));
    ok(app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&department),
        &json!({"text": "The second half was granted on 2026-11-27.", "outcome": "resolved"}),
    ));
    let thread = app
        .request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", code.as_str())], None)
        .json()["thread"]
        .clone();
    let texts: Vec<&str> = thread.as_array().unwrap().iter().filter_map(|e| e["text"].as_str()).collect();
    assert_eq!(
        texts,
        [
            "Please send a scan of the application receipt.",
            "The scan is attached; the receipt number is 2026-0801-17.",
            "The permit was granted on 2026-11-20.",
            "The permit covers only half the site.",
            "The second half was granted on 2026-11-27."
        ],
        "{thread}"
    );
}

/// A page shown after a post has no address to link to, so its language switch posts the
/// page's form again with `?lang=…&switch=1`: in a browser, the form with a mistake comes back
/// in Chinese with what was typed and the mistake (nothing filed); the confirmation comes back
/// in Chinese with the same number and code (nothing filed twice); over HTTP, the look-up's
/// and the lost-code answer's switches post their forms, the lost-code answer sends nothing
/// again, and a receipt asked with a wrong code shows nothing.
#[test]
fn pages_shown_after_a_post_switch_language_without_acting_again() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let filed = || app.get("/api/v1/complaints", Some(&coordinator)).json()["items"].as_array().unwrap().len();
    let b = Browser::start();

    b.goto(&app.url("/?lang=en"));
    fill_complaint(&b, "en", &dept, "Permit not decided");
    b.script("document.querySelector('form[data-validate]').noValidate = true; document.getElementById('f-complainant-email').type = 'text';");
    b.type_into("#f-complainant-email", "not-an-email");
    b.click("form[data-validate] button[type=submit]");
    assert_eq!(b.text("#e-complainant-email"), "Enter a valid email address.");
    b.click("button.lang[data-lang='zh']");
    b.wait_for_text("#e-complainant-email", "请填写有效的电子邮箱。");
    assert_eq!(b.value("#f-complainant-company"), "Hunan Precision Parts Co., Ltd.", "what was typed is kept");
    assert_eq!(b.value("#f-complainant-email"), "not-an-email");
    assert_eq!(b.script("return document.documentElement.lang;"), json!("zh-Hans"));
    assert_eq!(filed(), 0, "a language switch files nothing");
    b.screenshots("form-error-switched-zh");

    // Corrected and filed in English; the confirmation switched to Chinese keeps the code.
    b.click("button.lang[data-lang='en']");
    b.wait_for_text("#e-complainant-email", "Enter a valid email address.");
    b.script("document.querySelector('form[data-validate]').noValidate = true;");
    b.type_into("#f-complainant-email", "anna.mueller@example.de");
    b.click("form[data-validate] button[type=submit]");
    let (number, code) = (b.text("#tracking-number"), b.text("#access-code"));
    assert!(b.body_text().contains("shown only this once"));
    b.click("button.lang[data-lang='zh']");
    b.wait_for_text("h1", "投诉已受理");
    assert_eq!((b.text("#tracking-number"), b.text("#access-code")), (number.clone(), code.clone()));
    assert_eq!(filed(), 1, "the switch did not file again");
    b.screenshots("filed-switched-zh");
    b.click("button.lang[data-lang='zh-Hant']");
    b.wait_for_text("h1", "投訴已受理");
    assert_eq!(b.text("#access-code"), code);

    // Over HTTP: a receipt needs the number and the right code.
    let form = |pairs: &[(&str, &str)]| Some(("application/x-www-form-urlencoded", common::form_body(pairs)));
    let r = app.request(
        "POST",
        "/track/receipt?lang=en",
        None,
        &[],
        form(&[("tracking_number", &number), ("access_code", "WRONG-CODE")]),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(!r.body.contains("id=\"access-code\"") && !r.body.contains("WRONG-CODE"), "{}", r.body);
    // The look-up's switch posts the look-up form again.
    let r = app.request(
        "POST",
        "/track?lang=en",
        None,
        &[],
        form(&[("tracking_number", &number), ("access_code", "WRONG")]),
    );
    assert_eq!(r.status, 404);
    assert!(
        r.body.contains("form=\"lookup-form\"") && r.body.contains("formaction=\"&#x2f;track?lang=zh&amp;switch=1\""),
        "{}",
        r.body
    );
    // The lost-code answer in another language sends nothing more.
    let outbox = || {
        let v = app.get("/api/v1/admin/outbox", Some(&admin)).json();
        v.as_array().unwrap().iter().filter(|m| m["notice"] == "access_code_reset").count()
    };
    let asked = form(&[("tracking_number", &number), ("email", "anna.mueller@example.de")]);
    assert_eq!(app.request("POST", "/track/recover?lang=en", None, &[], asked.clone()).status, 200);
    // The form's own switch, typed and valid: the form again, nothing sent.
    let typed = app.request("POST", "/track/recover?lang=zh&switch=1", None, &[], asked);
    assert!(typed.body.contains("value=\"anna.mueller@example.de\"") && !typed.body.contains("id=\"recover-sent\""));
    assert_eq!(outbox(), 1);
    let again = app.request("POST", "/track/recover?lang=zh&switch=1", None, &[], form(&[("shown", "sent")]));
    assert_eq!(again.status, 200);
    assert!(again.body.contains("id=\"recover-sent\"") && again.body.contains("lang=\"zh-Hans\""), "{}", again.body);
    assert_eq!(outbox(), 1, "the switch sent no second link");
}
