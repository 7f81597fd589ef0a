//! The staff complaint pages: in a real browser, a hotline operator files in Chinese and reads
//! the number and code out, the coordination office assigns from its queue, the department sees
//! the complaint in its inbox with its urgency and replies, and the investor sees the reply;
//! screenshots of every page in both languages at 390 and 1280 px. Over HTTP: each page admits
//! the API's roles only, anonymous readers go to sign in, a department never reaches another
//! department's complaint, a form without the session's token changes nothing, and the inbox
//! labels urgency, filters and pages.

mod common;

use common::browser::Browser;
use common::walk::{staff_sign_in as browser_sign_in, staff_sign_out as sign_out};
use common::{complaint_json, form_body, spawn_app, Resp, TestApp};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// HTTP helpers: the page session is a cookie; forms carry its token.

/// Signs in on the page and returns the session cookie's value.
fn sign_in(app: &TestApp, email: &str) -> String {
    app.page_session(email)
}

fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Resp {
    let header = cookie.map(|c| format!("anshang_staff={c}"));
    let headers: Vec<(&str, &str)> = header.iter().map(|h| ("Cookie", h.as_str())).collect();
    app.request("GET", path, None, &headers, None)
}

fn post(app: &TestApp, path: &str, cookie: Option<&str>, pairs: &[(&str, &str)]) -> Resp {
    let header = cookie.map(|c| format!("anshang_staff={c}"));
    let headers: Vec<(&str, &str)> = header.iter().map(|h| ("Cookie", h.as_str())).collect();
    app.request("POST", path, None, &headers, Some(("application/x-www-form-urlencoded", form_body(pairs))))
}

/// The form token of a session (every staff page carries it in the sign-out form).
fn csrf_of(page: &Resp) -> String {
    page.body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .expect("a form token on the page")
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

fn multipart(fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----anshang-test-boundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts the intake form (multipart, in Chinese) with the session `cookie`.
fn post_intake(app: &TestApp, cookie: &str, fields: &[(&str, &str)]) -> Resp {
    let (content_type, body) = multipart(fields);
    app.request(
        "POST",
        "/staff/intake?lang=zh",
        None,
        &[("Cookie", &format!("anshang_staff={cookie}"))],
        Some((&content_type, body)),
    )
}

/// The intake form's fields for a good filing (without the form token).
fn intake_fields(subject: &str) -> Vec<(&str, &str)> {
    vec![
        ("channel", "hotline"),
        ("contact_consent", "yes"),
        ("complainant.type", "foreign_investor"),
        ("complainant.name", "王芳"),
        ("complainant.company", "郴州新材料有限公司"),
        ("complainant.nationality", "中国香港"),
        ("complainant.email", "wang.fang@example.hk"),
        ("complainant.phone", "+852 2345 6789"),
        ("complainant.language", "zh"),
        ("project", "新材料二期"),
        ("matter_type", "investment_environment"),
        ("subject", subject),
        ("facts", "停电三次，影响生产。"),
        ("request", "请协调供电部门。"),
    ]
}

fn file_by_api(app: &TestApp, token: &str, subject: &str) -> (String, String) {
    let mut body = complaint_json("en");
    body["subject"] = json!(subject);
    body["channel"] = json!("hotline");
    body["contact_consent"] = json!(true);
    let r = app.post("/api/v1/complaints", Some(token), &body);
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    (v["id"].as_str().unwrap().to_string(), v["tracking_number"].as_str().unwrap().to_string())
}

fn status_of(app: &TestApp, token: &str, id: &str) -> String {
    app.get(&format!("/api/v1/complaints/{id}"), Some(token)).json()["status"].as_str().unwrap().to_string()
}

// ---------------------------------------------------------------------------------------------
// Browser helpers

/// Screenshots at 390 and 1280 px, and no sideways scrolling at 390 px.
fn shots(b: &Browser, name: &str) {
    b.screenshots(name);
    b.set_width(common::browser::PHONE_WIDTH);
    assert!(!b.overflows_horizontally(), "{name} scrolls sideways at 390 px");
    b.reset_width();
}

/// Fills the shared complaint fields in Chinese.
fn fill_complaint_zh(b: &Browser, department_id: &str, subject: &str) {
    b.choose("#f-complainant-type", "foreign_invested_enterprise");
    b.type_into("#f-complainant-name", "李华");
    b.type_into("#f-complainant-company", "郴州精密零件有限公司（外商独资）");
    b.type_into("#f-complainant-nationality", "新加坡");
    b.type_into("#f-complainant-email", "li.hua@example.sg");
    b.type_into("#f-complainant-phone", "+65 6123 4567");
    b.choose("#f-complainant-language", "zh");
    b.type_into("#f-project", "郴州工厂扩建二期");
    b.choose("#f-matter_type", "administrative_act");
    b.choose("#f-department_id", department_id);
    b.type_into("#f-subject", subject);
    b.type_into("#f-facts", "2026年8月1日提交施工许可申请，材料齐全，至今未作决定。\n第二行 <b>不加粗</b>。");
    b.type_into("#f-request", "请依法作出许可决定，或书面说明延误原因。");
}

#[test]
fn a_hotline_complaint_goes_from_intake_to_the_departments_reply_in_chinese() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let other = app.create_department(&admin, "housing");
    let operator = app.staff_account(&admin, "operator", None);
    let coordinator = app.staff_account(&admin, "coordinator", None);
    let department = app.staff_account(&admin, "department", Some(&dept));
    let b = Browser::start();

    // The operator's intake page, first in English: the form says what is missing.
    browser_sign_in(&b, &app, &operator, "/staff/intake");
    b.goto(&app.url("/staff/intake?lang=en"));
    assert_eq!(b.text("h1"), "Hotline intake");
    shots(&b, "staff-intake-en");
    fill_complaint_zh(&b, &other, "Power cuts at the plant");
    b.choose("#f-channel", "email");
    b.script("document.querySelector('form[data-validate]').noValidate = true;");
    b.click("form[action='/staff/intake'] button[type=submit]");
    assert_eq!(b.text("#e-contact_consent"), "This field is required.");
    assert!(b.text("#error-summary").contains("Please correct the marked fields"));
    assert_eq!(b.value("#f-complainant-company"), "郴州精密零件有限公司（外商独资）", "what was typed is kept");
    shots(&b, "staff-intake-error-en");
    b.click("#consent-no");
    b.click("form[action='/staff/intake'] button[type=submit]");
    let english_number = b.text("#tracking-number");
    assert!(b.body_text().contains("shown only this once"));
    assert!(b.body_text().contains("channel: Email"), "{}", b.body_text());
    shots(&b, "staff-filed-en");

    // In Chinese, with a file: the number and the code, once, to read out.
    b.goto(&app.url("/staff/intake?lang=zh"));
    assert_eq!(b.text("h1"), "热线登记");
    shots(&b, "staff-intake-zh");
    fill_complaint_zh(&b, &dept, "施工许可逾期未决");
    b.choose("#f-channel", "hotline");
    b.click("#consent-yes");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("施工许可申请.txt");
    std::fs::write(&file, "施工许可申请，2026-08-01。\n").unwrap();
    b.type_into_file("#f-attachments", &file);
    b.click("form[action='/staff/intake'] button[type=submit]");
    let number = b.text("#tracking-number");
    let code = b.text("#access-code");
    assert!(number.contains("-2026-") || number.contains('-'), "{number}");
    assert_ne!(number, english_number);
    assert!(code.len() >= 10, "{code}");
    assert!(b.body_text().contains("查询码只显示这一次"));
    assert!(b.body_text().contains("渠道：热线电话"));
    assert!(b.text("#due").starts_with("答复期限："));
    shots(&b, "staff-filed-zh");

    // The caller asks how it stands: the status read-back, by number only.
    b.click("a[href^='/staff/status?number=']");
    b.wait_for_text("#status", "已受理，待分派");
    shots(&b, "staff-status-zh");
    b.goto(&app.url(&format!("/staff/status?number={number}&lang=en")));
    b.wait_for_text("#status", "Received");
    assert_eq!(b.count("details.danger form[action$='/withdraw']"), 1, "the operator may withdraw for the caller");
    shots(&b, "staff-status-en");
    b.goto(&app.url("/staff/status?number=CZ-2026-999999"));
    assert!(b.text("#error-summary").contains("Not found"));
    b.goto(&app.url("/staff/intake?lang=zh"));
    sign_out(&b);

    // The coordination office assigns it from the queue (the department the caller named is
    // already chosen).
    browser_sign_in(&b, &app, &coordinator, "/staff/inbox");
    let queued = format!("#queue-{number}");
    b.find(&queued);
    b.find(&format!("#queue-{english_number}"));
    assert_eq!(b.value(&format!("{queued} select")), dept, "the named department is preselected");
    shots(&b, "staff-inbox-coordinator-zh");
    b.click(&format!("{queued} button[type=submit]"));
    b.wait_for_text("#done p", "已分派。承办部门已收到通知。");
    assert_eq!(b.count(&queued), 0, "assigned complaints leave the queue");
    assert!(b.text(&format!("#row-{number}")).contains("部门landres"));
    b.goto(&app.url("/staff/inbox?lang=en"));
    b.find(&format!("#queue-{english_number}"));
    shots(&b, "staff-inbox-coordinator-en");
    b.click(&format!("#row-{number} a"));
    b.wait_for_text("#status", "Assigned");
    b.find("#reassign-form");
    assert!(b.body_text().contains("施工许可申请.txt"));
    shots(&b, "staff-complaint-coordinator-en");
    let detail = b.path();
    b.goto(&app.url(&format!("{detail}?lang=zh")));
    b.wait_for_text("#status", "办理中");
    shots(&b, "staff-complaint-coordinator-zh");
    sign_out(&b);

    // The department sees it in its inbox, labelled by time left, and replies.
    browser_sign_in(&b, &app, &department, "/staff/inbox");
    let row = format!("#row-{number}");
    let class = b.script(&format!("return document.querySelector('{row}').className;"));
    assert!(class.as_str().unwrap().contains("due-ok"), "{class}");
    let label = b.text(&format!("{row} .badge.urgency"));
    assert!(label.starts_with("剩 ") && label.ends_with(" 个工作日"), "{label}");
    assert_eq!(b.count(&format!("#row-{english_number}")), 0, "another department's complaint");
    assert_eq!(b.count("#queue"), 0, "departments have no assignment queue");
    shots(&b, "staff-inbox-department-zh");
    // On a phone the filters fold away and the list starts on the first screen; a filter in use
    // keeps them open; a wide screen shows them.
    b.set_width(390);
    b.goto(&app.url("/staff/inbox?lang=zh"));
    assert_eq!(b.script("return document.getElementById('inbox-filters').open;"), json!(false));
    let first_row_visible =
        b.script("return document.querySelector('#inbox li').getBoundingClientRect().bottom <= window.innerHeight;");
    assert_eq!(first_row_visible, json!(true), "the first complaint is below the first screen at 390 px");
    b.goto(&app.url("/staff/inbox?lang=zh&q=%E6%96%BD%E5%B7%A5"));
    assert_eq!(b.script("return document.getElementById('inbox-filters').open;"), json!(true));
    b.reset_width();
    b.goto(&app.url("/staff/inbox?lang=zh"));
    assert_eq!(b.script("return document.getElementById('inbox-filters').open;"), json!(true));
    assert!(b.is_rendered("#f-q"));
    b.goto(&app.url("/staff/inbox?lang=en"));
    assert!(b.text(&format!("{row} .badge.urgency")).ends_with("working day(s) left"));
    shots(&b, "staff-inbox-department-en");
    b.goto(&app.url("/staff/inbox?lang=zh"));
    b.click(&format!("{row} a"));
    b.wait_for_text("#status", "办理中");
    assert_eq!(b.count("b"), 0, "the facts are escaped, not interpreted");
    assert_eq!(b.count("#assign-form"), 0, "no coordinator forms for a department");
    shots(&b, "staff-complaint-department-zh");

    // The reply without an outcome (the browser's own check switched off): the server says so,
    // beside the form, and keeps the text.
    let reply = "施工许可已于2026年11月20日批准，许可证已寄出。";
    b.type_into("#f-reply-text", reply);
    b.script("document.querySelector('#reply-form form').noValidate = true;");
    b.click("#reply-form button[type=submit]");
    b.wait_for_text("#e-reply-outcome", "此项必填。");
    assert_eq!(b.value("#f-reply-text"), reply);
    shots(&b, "staff-complaint-reply-error-zh");
    b.click("#outcome-resolved");
    // The investor's language is beside the box; the reply goes through a preview first.
    assert!(b.text("#reply-language").contains("简体中文"), "{}", b.text("#reply-language"));
    b.click("#reply-form button[type=submit]");
    b.find("#as-tracked");
    assert_eq!(b.text("#preview-text"), reply);
    assert_eq!(b.text("#preview-outcome"), "已解决");
    assert!(b.text("#preview-email-subject").contains("编号"), "{}", b.text("#preview-email-subject"));
    let office = app.token_for(&coordinator, common::TEST_PASSWORD);
    let status = app.get(&format!("/api/v1/complaints/by-number/{number}"), Some(&office)).json()["status"].clone();
    assert_eq!(status, json!("assigned"), "a preview sends nothing");
    shots(&b, "staff-reply-preview-zh");
    // "Change it": the form again, as typed; then the preview and the confirmation.
    b.click("#change-reply button");
    b.find("#f-reply-text");
    assert_eq!(b.value("#f-reply-text"), reply);
    assert_eq!(b.script("return document.getElementById('outcome-resolved').checked;"), json!(true));
    b.click("#reply-form button[type=submit]");
    b.find("#confirm-reply");
    b.click("#confirm-reply button");
    b.wait_for_text("#status", "已答复");
    assert_eq!(b.text("#done p"), "答复已发出，投诉人将收到通知。");
    assert_eq!(b.text("#reply-text"), reply);
    assert_eq!(b.text("#reply-outcome"), "已解决");
    assert!(b.text("#timeline").contains("已答复"));
    shots(&b, "staff-complaint-replied-zh");
    let detail = b.path();
    b.goto(&app.url(&format!("{detail}?lang=en")));
    b.wait_for_text("#status", "Replied");
    shots(&b, "staff-complaint-department-en");

    // Another role's page is a 403 page in the reader's language.
    b.goto(&app.url("/staff/intake?lang=zh"));
    assert_eq!(b.text("h1"), "您无权进行此操作。");
    shots(&b, "staff-forbidden-zh");
    b.goto(&app.url("/staff/inbox"));
    sign_out(&b);

    // The investor sees the reply: on the tracking page and through the API.
    b.goto(&app.url("/track"));
    b.type_into("#f-tracking-number", &number);
    b.type_into("#f-access-code", &code);
    b.click("form[action='/track'] button");
    b.wait_for_text("#status", "已答复");
    assert_eq!(b.text("#reply-text"), reply);
    let r = app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", &code)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["reply"]["text"], json!(reply));
    assert_eq!(r.json()["reply"]["outcome"], json!("resolved"));
}

#[test]
fn each_staff_page_admits_the_apis_roles_only() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "land");
    let operator_token = app.staff_token(&admin, "operator", None);
    let (id, number) = file_by_api(&app, &operator_token, "Permit");
    let cookies: Vec<(&str, String)> = [
        ("operator", None),
        ("department", Some(dept.as_str())),
        ("coordinator", None),
        ("commission", None),
        ("admin", None),
    ]
    .into_iter()
    .map(|(role, d)| (role, sign_in(&app, &app.staff_account(&admin, role, d))))
    .collect();
    // Every role starts on a page it may open.
    for (role, cookie) in &cookies {
        let r = get(&app, "/staff", Some(cookie));
        assert_eq!(r.status, 303, "{role}");
        let start = r.header("location").unwrap().to_string();
        assert_eq!(get(&app, &start, Some(cookie)).status, 200, "{role} starts on {start}");
    }
    let gets: Vec<(String, &[&str])> = vec![
        ("/staff/intake".into(), &["operator"]),
        ("/staff/callbacks".into(), &["operator"]),
        (format!("/staff/status?number={number}"), &["operator", "coordinator"]),
        ("/staff/inbox".into(), &["department", "coordinator"]),
        (format!("/staff/complaints/{id}"), &["department", "coordinator"]),
    ];
    for (path, allowed) in &gets {
        // Anonymous: to sign in, and back here afterwards.
        let r = get(&app, path, None);
        assert_eq!(r.status, 303, "{path}");
        let location = r.header("location").unwrap();
        assert!(location.starts_with("/staff/login?next=/staff/"), "{path} → {location}");
        for (role, cookie) in &cookies {
            let r = get(&app, path, Some(cookie));
            if allowed.contains(role) {
                // A department sees the complaint only once it holds it (404 before).
                let expected = if *role == "department" && path.starts_with("/staff/complaints/") { 404 } else { 200 };
                assert_eq!(r.status, expected, "{role} {path}: {}", r.body);
            } else {
                assert_eq!(r.status, 403, "{role} {path}");
                assert!(
                    r.body.contains("您无权进行此操作") || r.body.contains("You may not do this"),
                    "{role} {path}: {}",
                    r.body
                );
                assert!(r.content_type.starts_with("text/html"), "{role} {path}");
            }
        }
    }
    // Forms: the wrong role is refused before anything is read.
    let posts: Vec<(String, &[&str])> = vec![
        (format!("/staff/complaints/{id}/assign"), &["coordinator"]),
        (format!("/staff/complaints/{id}/reassign"), &["coordinator"]),
        (format!("/staff/complaints/{id}/reject"), &["coordinator"]),
        (format!("/staff/complaints/{id}/mark-duplicate"), &["coordinator"]),
        (format!("/staff/complaints/{id}/extension-requests/x/decision"), &["coordinator"]),
        (format!("/staff/complaints/{id}/reply"), &["department"]),
        (format!("/staff/complaints/{id}/reply/preview"), &["department"]),
        (format!("/staff/complaints/{id}/request-info"), &["department"]),
        (format!("/staff/complaints/{id}/return"), &["department"]),
        (format!("/staff/complaints/{id}/extension-requests"), &["department"]),
        (format!("/staff/complaints/{id}/withdraw"), &["operator"]),
        (format!("/staff/complaints/{id}/notes"), &["department", "coordinator"]),
        ("/staff/callbacks/x/done".into(), &["operator"]),
        ("/staff/intake/receipt".into(), &["operator"]),
    ];
    for (path, allowed) in &posts {
        assert_eq!(post(&app, path, None, &[]).status, 303, "{path}");
        for (role, cookie) in &cookies {
            let r = post(&app, path, Some(cookie), &[("csrf", "nope")]);
            // The right role with a bad token: 403 too, but for the token.
            assert_eq!(r.status, 403, "{role} {path}");
            let token_refused = r.body.contains("表单已过期") || r.body.contains("This form has expired");
            assert_eq!(token_refused, allowed.contains(role), "{role} {path}: {}", r.body);
        }
    }
    assert_eq!(
        app.get(&format!("/api/v1/complaints/by-number/{number}"), Some(&operator_token)).json()["status"],
        json!("received")
    );
}

#[test]
fn a_department_never_reaches_another_departments_complaint() {
    let app = spawn_app();
    let admin = app.admin_token();
    let (land, water) = (app.create_department(&admin, "land"), app.create_department(&admin, "water"));
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let operator = app.staff_token(&admin, "operator", None);
    let (id, number) = file_by_api(&app, &operator, "Land permit");
    let r = app.request(
        "POST",
        &format!("/api/v1/complaints/{id}/attachments?filename=note.txt"),
        Some(&operator),
        &[],
        Some(("application/octet-stream", b"a note\n".to_vec())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let attachment = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": land}))
            .status,
        200
    );

    let ours = sign_in(&app, &app.staff_account(&admin, "department", Some(&land)));
    let theirs = sign_in(&app, &app.staff_account(&admin, "department", Some(&water)));
    assert_eq!(get(&app, &format!("/staff/complaints/{id}"), Some(&ours)).status, 200);
    let file = get(&app, &format!("/staff/complaints/{id}/attachments/{attachment}"), Some(&ours));
    assert_eq!((file.status, file.body.as_str()), (200, "a note\n"));
    assert_eq!(file.header("cache-control"), Some("private, no-store"));

    let page = get(&app, &format!("/staff/complaints/{id}"), Some(&theirs));
    assert_eq!(page.status, 404);
    assert!(!page.body.contains("Land permit"));
    assert_eq!(get(&app, &format!("/staff/complaints/{id}/attachments/{attachment}"), Some(&theirs)).status, 404);
    let inbox = get(&app, "/staff/inbox", Some(&theirs));
    assert_eq!(inbox.status, 200);
    assert!(!inbox.body.contains(&number));
    // Asking for the other department in the filter changes nothing.
    let inbox = get(&app, &format!("/staff/inbox?department_id={land}"), Some(&theirs));
    assert!(!inbox.body.contains(&number));
    // Acting on it fails like reading it, and changes nothing.
    let token = csrf_of(&get(&app, "/staff/inbox", Some(&theirs)));
    let r = post(
        &app,
        &format!("/staff/complaints/{id}/reply"),
        Some(&theirs),
        &[("csrf", &token), ("text", "Not ours to say."), ("outcome", "resolved")],
    );
    assert_eq!(r.status, 404);
    assert_eq!(status_of(&app, &coordinator, &id), "assigned");
}

#[test]
fn a_form_without_the_sessions_token_changes_nothing() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "land");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let operator_token = app.staff_token(&admin, "operator", None);
    let (id, _) = file_by_api(&app, &operator_token, "Permit");
    let coordinator_page = sign_in(&app, &app.staff_account(&admin, "coordinator", None));
    let department_page = sign_in(&app, &app.staff_account(&admin, "department", Some(&dept)));
    let operator_page = sign_in(&app, &app.staff_account(&admin, "operator", None));

    // No token, another session's token: refused, still received.
    let others = csrf_of(&get(&app, "/staff/inbox", Some(&department_page)));
    for token in [None, Some(others.as_str())] {
        let mut fields = vec![("department_id", dept.as_str())];
        if let Some(t) = token {
            fields.push(("csrf", t));
        }
        let r = post(&app, &format!("/staff/complaints/{id}/assign"), Some(&coordinator_page), &fields);
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(status_of(&app, &coordinator, &id), "received");
    // A form posted from another site is refused even with the right token.
    let token = csrf_of(&get(&app, "/staff/inbox", Some(&coordinator_page)));
    let r = app.request(
        "POST",
        &format!("/staff/complaints/{id}/assign"),
        None,
        &[("Cookie", &format!("anshang_staff={coordinator_page}")), ("Origin", "https://evil.example")],
        Some(("application/x-www-form-urlencoded", form_body(&[("csrf", &token), ("department_id", &dept)]))),
    );
    assert_eq!(r.status, 403);
    assert_eq!(status_of(&app, &coordinator, &id), "received");
    // With the token it works, and answers 303 back to the complaint.
    let r = post(
        &app,
        &format!("/staff/complaints/{id}/assign"),
        Some(&coordinator_page),
        &[("csrf", &token), ("department_id", &dept)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some(format!("/staff/complaints/{id}?done=assign").as_str()));
    assert_eq!(status_of(&app, &coordinator, &id), "assigned");

    // The department's reply without the token: refused, still assigned.
    let r = post(
        &app,
        &format!("/staff/complaints/{id}/reply"),
        Some(&department_page),
        &[("text", "Granted."), ("outcome", "resolved")],
    );
    assert_eq!(r.status, 403);
    assert_eq!(status_of(&app, &coordinator, &id), "assigned");

    // The operator's intake without the token files nothing.
    let before = app.get("/api/v1/complaints", Some(&coordinator)).json()["items"].as_array().unwrap().len();
    let (content_type, body) = multipart(&intake_fields("停电"));
    let r = app.request(
        "POST",
        "/staff/intake",
        None,
        &[("Cookie", &format!("anshang_staff={operator_page}"))],
        Some((&content_type, body)),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(app.get("/api/v1/complaints", Some(&coordinator)).json()["items"].as_array().unwrap().len(), before);
    // With it, the complaint is filed for the caller (channel and consent recorded).
    let token = csrf_of(&get(&app, "/staff/intake", Some(&operator_page)));
    let mut fields = intake_fields("停电");
    fields.push(("csrf", &token));
    let (content_type, body) = multipart(&fields);
    let r = app.request(
        "POST",
        "/staff/intake",
        None,
        &[("Cookie", &format!("anshang_staff={operator_page}"))],
        Some((&content_type, body)),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"access-code\""));
    let listed = app.get("/api/v1/complaints?q=%E5%81%9C%E7%94%B5", Some(&coordinator)).json();
    let filed_id = listed["items"][0]["id"].as_str().unwrap();
    let v = app.get(&format!("/api/v1/complaints/{filed_id}"), Some(&coordinator)).json();
    assert_eq!((v["channel"].as_str(), v["contact_consent"].as_bool()), (Some("hotline"), Some(true)));
}

#[test]
fn the_inbox_labels_urgency_filters_and_pages() {
    let app = spawn_app();
    let admin = app.admin_token();
    let (land, water) = (app.create_department(&admin, "land"), app.create_department(&admin, "water"));
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let operator = app.staff_token(&admin, "operator", None);
    let department = app.staff_token(&admin, "department", Some(&land));
    let mut filed = std::collections::BTreeMap::new();
    for name in ["ok", "reminder", "today", "overdue", "paused", "replied"] {
        let (id, number) = file_by_api(&app, &operator, &format!("Urgency {name}"));
        assert_eq!(
            app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": land}))
                .status,
            200
        );
        filed.insert(name, (id, number));
    }
    let r = app.post(
        &format!("/api/v1/complaints/{}/request-info", filed["paused"].0),
        Some(&department),
        &json!({"question": "The permit number?"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(
        &format!("/api/v1/complaints/{}/reply", filed["replied"].0),
        Some(&department),
        &json!({"text": "Done.", "outcome": "resolved"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Move three due instants (as the sweeper and the calendar would over days).
    {
        use anshang::db::schema::complaints;
        use diesel::prelude::*;
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
        let mut conn = pool.get().unwrap();
        let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
        let today = now.date_naive();
        let received = now.to_rfc3339().replace('+', "%2B");
        let next_working: chrono::NaiveDate =
            app.get(&format!("/api/v1/calendar/due?received={received}&days=1"), None).json()["due_date"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
        let end_of =
            |d: chrono::NaiveDate| d.succ_opt().unwrap().and_hms_opt(0, 0, 0).unwrap() - chrono::Duration::hours(8);
        for (name, due, overdue) in [
            ("reminder", end_of(next_working), false),
            ("today", end_of(today), false),
            ("overdue", end_of(today.pred_opt().unwrap()), true),
        ] {
            let n = diesel::update(complaints::table.filter(complaints::id.eq(&filed[name].0)))
                .set((complaints::due_at.eq(Some(due)), complaints::overdue.eq(overdue)))
                .execute(&mut conn)
                .unwrap();
            assert_eq!(n, 1);
        }
    }

    let page = sign_in(&app, &app.staff_account(&admin, "department", Some(&land)));
    let inbox = get(&app, "/staff/inbox?lang=en", Some(&page));
    assert_eq!(inbox.status, 200);
    let row = |body: &str, number: &str| -> String {
        let start = body.find(&format!("id=\"row-{number}\"")).unwrap_or_else(|| panic!("no row {number}"));
        let open = body[..start].rfind("<li").unwrap();
        let end = start + body[start..].find("</li>").unwrap();
        body[open..end].to_string()
    };
    let expectations = [
        ("overdue", "due-overdue", "Overdue"),
        ("today", "due-today", "Due today"),
        ("reminder", "due-reminder", "Due soon: 1 working day(s) left"),
        ("ok", "due-ok", "working day(s) left"),
        ("paused", "due-paused", "Paused: waiting for the investor"),
        ("replied", "due-none", "No clock running"),
    ];
    for (name, class, label) in expectations {
        let html = row(&inbox.body, &filed[name].1);
        assert!(html.contains(&format!("class=\"row {class}\"")), "{name}: {html}");
        assert!(html.contains(label), "{name}: {html}");
    }
    // Most urgent first; complaints without a running clock last.
    let positions: Vec<usize> = ["overdue", "today", "reminder", "replied"]
        .iter()
        .map(|n| inbox.body.find(&format!("id=\"row-{}\"", filed[n].1)).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(inbox.body.contains("2 working days or fewer"), "the reminder window is the ladder's");

    // Filters: overdue only, status, text, dates; a bad date is named.
    let only = get(&app, "/staff/inbox?overdue=1", Some(&page)).body;
    assert!(only.contains(&filed["overdue"].1) && !only.contains(&filed["ok"].1));
    let only = get(&app, "/staff/inbox?status=awaiting_investor&q=&from=&to=&overdue=", Some(&page)).body;
    assert!(only.contains(&filed["paused"].1) && !only.contains(&filed["ok"].1));
    let only = get(&app, "/staff/inbox?q=Urgency+today", Some(&page)).body;
    assert!(only.contains(&filed["today"].1) && !only.contains(&filed["overdue"].1));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive();
    let none = get(&app, &format!("/staff/inbox?from={tomorrow}&lang=en"), Some(&page)).body;
    assert!(none.contains("No complaints match."));
    let bad = get(&app, "/staff/inbox?from=2026-13-01&status=lost&lang=en", Some(&page));
    assert_eq!(bad.status, 422);
    assert!(
        bad.body.contains("Enter a date (year-month-day).") && bad.body.contains("Choose one of the options."),
        "{}",
        bad.body
    );

    // The coordinator filters by department and pages through the list by the cursor.
    let coordinator_page = sign_in(&app, &app.staff_account(&admin, "coordinator", None));
    for i in 0..21 {
        file_by_api(&app, &operator, &format!("Bulk {i}"));
    }
    let by_dept = get(&app, &format!("/staff/inbox?department_id={water}"), Some(&coordinator_page)).body;
    assert!(!by_dept.contains(&filed["ok"].1), "water holds nothing");
    // 27 complaints: 25 on the first page (after the queue of those still to assign), 2 after.
    let first = get(&app, "/staff/inbox", Some(&coordinator_page)).body;
    let rows_on = |body: &str| body.matches("id=\"row-").count();
    assert_eq!(rows_on(&first), 25);
    assert_eq!(first.matches("id=\"queue-CZ-").count(), 21);
    let decoded = first.replace("&#x2f;", "/").replace("&amp;", "&");
    let href = decoded
        .split("rel=\"next\"")
        .next()
        .unwrap()
        .rsplit("<a href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(href.starts_with("/staff/inbox?cursor="), "{href}");
    let second = get(&app, &href, Some(&coordinator_page));
    assert_eq!(second.status, 200);
    assert_eq!(rows_on(&second.body), 2);
    assert!(!second.body.contains("id=\"queue\""), "the queue shows on the first page only");
    assert!(!second.body.contains("rel=\"next\""));
    // Filters narrow the list (here to one page).
    let decoded = get(&app, "/staff/inbox?q=Bulk&status=received", Some(&coordinator_page)).body;
    assert_eq!(rows_on(&decoded), 21, "{}", decoded);
    assert!(!decoded.contains("rel=\"next\""));
}

#[test]
fn every_form_acts_through_the_service_and_a_refusal_keeps_what_was_typed() {
    let app = spawn_app();
    let admin = app.admin_token();
    let (land, water) = (app.create_department(&admin, "land"), app.create_department(&admin, "water"));
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let operator_token = app.staff_token(&admin, "operator", None);
    let (id, _) = file_by_api(&app, &operator_token, "Permit");
    let coord = sign_in(&app, &app.staff_account(&admin, "coordinator", None));
    let ours = sign_in(&app, &app.staff_account(&admin, "department", Some(&land)));
    let theirs = sign_in(&app, &app.staff_account(&admin, "department", Some(&water)));
    let operator = sign_in(&app, &app.staff_account(&admin, "operator", None));
    let token = |cookie: &str| csrf_of(&get(&app, "/staff/inbox", Some(cookie)));
    let (coord_token, ours_token, theirs_token) = (token(&coord), token(&ours), token(&theirs));
    let detail = format!("/staff/complaints/{id}");
    let url = |action: &str| format!("{detail}/{action}");
    let done = |r: &Resp, what: &str| {
        assert_eq!(r.status, 303, "{what}: {}", r.body);
        assert_eq!(r.header("location"), Some(format!("/staff/complaints/{id}?done={what}").as_str()));
    };

    // A received complaint offers the coordinator assign and refuse, nothing else.
    let page = get(&app, &detail, Some(&coord)).body;
    assert!(
        page.contains("id=\"assign-form\"")
            && page.contains("id=\"reject-form\"")
            && !page.contains("id=\"reassign-form\"")
    );
    done(&post(&app, &url("assign"), Some(&coord), &[("csrf", &coord_token), ("department_id", &land)]), "assign");
    let page = get(&app, &format!("/staff/complaints/{id}?done=assign&lang=en"), Some(&coord)).body;
    assert!(page.contains("Assigned. The department has been notified."));
    assert!(!page.contains("id=\"assign-form\"") && page.contains("id=\"reassign-form\""));

    // Department: ask for information (an empty question is named beside its form).
    let r = post(&app, &url("request-info"), Some(&ours), &[("csrf", &ours_token), ("question", "  ")]);
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"e-request_info-question\""), "{}", r.body);
    assert!(r.body.contains("href=\"#f-request_info-question\""));
    done(
        &post(&app, &url("request-info"), Some(&ours), &[("csrf", &ours_token), ("question", "Which plot?")]),
        "request_info",
    );
    assert_eq!(status_of(&app, &coordinator, &id), "awaiting_investor");
    let page = get(&app, &format!("/staff/complaints/{id}?lang=en"), Some(&ours)).body;
    assert!(page.contains("Paused: waiting for the investor") && page.contains("Which plot?"));

    // An extension: out of range is refused with the reason kept; then asked.
    let r = post(
        &app,
        &url("extension-requests"),
        Some(&ours),
        &[("csrf", &ours_token), ("days", "0"), ("reason", "Site visit needed")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"e-extension-days\""));
    assert!(r.body.contains(">Site visit needed</textarea>"), "the reason is kept");
    done(
        &post(
            &app,
            &url("extension-requests"),
            Some(&ours),
            &[("csrf", &ours_token), ("days", "3"), ("reason", "Site visit needed")],
        ),
        "request_extension",
    );
    let page = get(&app, &detail, Some(&ours)).body;
    assert!(page.contains("已有一项延期申请等待协调办决定"), "one pending request at a time");

    // The coordinator decides it: approving needs the days; the typed reason stays.
    let rid = app.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)).json()["extensions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let decision = url(&format!("extension-requests/{rid}/decision"));
    let r = post(
        &app,
        &decision,
        Some(&coord),
        &[("csrf", &coord_token), ("decision", "approve"), ("days", ""), ("reason", "Fair enough")],
    );
    assert_eq!(r.status, 422);
    assert!(
        r.body.contains(&format!("id=\"f-decide-{rid}-days\"")) && r.body.contains(">Fair enough</textarea>"),
        "{}",
        r.body
    );
    done(
        &post(
            &app,
            &decision,
            Some(&coord),
            &[("csrf", &coord_token), ("decision", "approve"), ("days", "2"), ("reason", "Fair enough")],
        ),
        "decide_extension",
    );
    let v = app.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)).json();
    assert_eq!(
        (v["clock"]["extension_days"].as_i64(), v["extensions"][0]["decision"].as_str()),
        (Some(2), Some("approved"))
    );

    // Reassign: to the same department is refused in this page's words; then to another.
    let r = post(
        &app,
        &url("reassign"),
        Some(&coord),
        &[("csrf", &coord_token), ("department_id", &land), ("reason", "Wrong desk")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("投诉已在该部门办理"), "{}", r.body);
    done(
        &post(
            &app,
            &url("reassign"),
            Some(&coord),
            &[("csrf", &coord_token), ("department_id", &water), ("reason", "Water rights")],
        ),
        "reassign",
    );
    assert_eq!(get(&app, &detail, Some(&ours)).status, 404, "the first department no longer sees it");

    // The new department replies.
    // (Still waiting for the investor: a return is not possible now, and the page says why.)
    assert_eq!(status_of(&app, &coordinator, &id), "awaiting_investor");
    let r = post(&app, &url("return"), Some(&theirs), &[("csrf", &theirs_token), ("reason", "Not water")]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("投诉当前的状态不允许此操作"), "{}", r.body);
    done(
        &post(
            &app,
            &url("reply"),
            Some(&theirs),
            &[("csrf", &theirs_token), ("text", "We need the plot number first."), ("outcome", "explained")],
        ),
        "reply",
    );
    assert_eq!(status_of(&app, &coordinator, &id), "replied");

    // A second complaint: returned, then refused by the coordinator.
    let (second, second_number) = file_by_api(&app, &operator_token, "Not ours");
    let url2 = |action: &str| format!("/staff/complaints/{second}/{action}");
    assert_eq!(
        post(
            &app,
            &url2("assign"),
            Some(&coord),
            &[("csrf", &coord_token), ("department_id", &land), ("from", "inbox")]
        )
        .header("location"),
        Some("/staff/inbox?done=assign")
    );
    let r = post(&app, &url2("return"), Some(&ours), &[("csrf", &ours_token), ("reason", "A tax matter")]);
    assert_eq!((r.status, r.header("location")), (303, Some("/staff/inbox?done=return")));
    assert_eq!(status_of(&app, &coordinator, &second), "received");
    let r =
        post(&app, &url2("reject"), Some(&coord), &[("csrf", &coord_token), ("reason", "Not an investment matter.")]);
    assert_eq!(r.header("location"), Some(format!("/staff/complaints/{second}?done=reject").as_str()));
    assert_eq!(status_of(&app, &coordinator, &second), "rejected");

    // A third: the operator withdraws it for the caller (the reason is required).
    let (third, third_number) = file_by_api(&app, &operator_token, "Changed my mind");
    let operator_token_page = csrf_of(&get(&app, "/staff/intake", Some(&operator)));
    let r = post(
        &app,
        &format!("/staff/complaints/{third}/withdraw"),
        Some(&operator),
        &[("csrf", &operator_token_page), ("reason", "")],
    );
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"e-withdraw-reason\"") && r.body.contains(&third_number));
    let r = post(
        &app,
        &format!("/staff/complaints/{third}/withdraw"),
        Some(&operator),
        &[("csrf", &operator_token_page), ("reason", "Settled directly")],
    );
    assert_eq!(r.header("location"), Some(format!("/staff/status?number={third_number}&done=withdraw").as_str()));
    assert_eq!(status_of(&app, &coordinator, &third), "withdrawn");
    let page = get(&app, &format!("/staff/status?number={third_number}&done=withdraw&lang=en"), Some(&operator)).body;
    assert!(
        page.contains("Withdrawn at the caller&#x27;s request.") || page.contains("Withdrawn at the caller's request."),
        "{page}"
    );
    assert!(!page.contains("/withdraw\""), "nothing left to withdraw");
    // The operator cannot withdraw a refused complaint (the state machine says no).
    let r = post(
        &app,
        &format!("/staff/complaints/{second}/withdraw"),
        Some(&operator),
        &[("csrf", &operator_token_page), ("reason", "Asked")],
    );
    assert_eq!(r.status, 409);
    assert!(r.body.contains(&second_number));
}

#[test]
fn a_nul_character_in_a_form_or_filter_is_refused_not_stored() {
    // PostgreSQL cannot hold or compare a NUL: every text that reaches a query is checked first.
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "land");
    let operator_token = app.staff_token(&admin, "operator", None);
    let (id, _) = file_by_api(&app, &operator_token, "Permit");
    let coord = sign_in(&app, &app.staff_account(&admin, "coordinator", None));
    let operator = sign_in(&app, &app.staff_account(&admin, "operator", None));
    let token = csrf_of(&get(&app, "/staff/inbox", Some(&coord)));

    let r = get(&app, "/staff/inbox?department_id=a%00b&lang=en", Some(&coord));
    assert_eq!(r.status, 422, "{}", r.body);
    let cursor: String = "-|a\0b".bytes().map(|b| format!("{b:02x}")).collect();
    assert_eq!(get(&app, &format!("/staff/inbox?cursor={cursor}"), Some(&coord)).status, 422);
    for action in ["assign", "reassign"] {
        let r = post(
            &app,
            &format!("/staff/complaints/{id}/{action}"),
            Some(&coord),
            &[("csrf", &token), ("department_id", &format!("{dept}\0")), ("reason", "Why")],
        );
        assert_eq!(r.status, 422, "{action}: {}", r.body);
    }
    let operator_csrf = csrf_of(&get(&app, "/staff/intake", Some(&operator)));
    let mut fields = intake_fields("停电");
    fields.push(("csrf", &operator_csrf));
    fields.push(("department_id", "x\0y"));
    let (content_type, body) = multipart(&fields);
    let r = app.request(
        "POST",
        "/staff/intake",
        None,
        &[("Cookie", &format!("anshang_staff={operator}"))],
        Some((&content_type, body)),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("含有不允许的控制字符") || r.body.contains("not allowed"), "{}", r.body);
}

/// A department clerk who uses only the keyboard signs in, opens the inbox's complaint with
/// Enter, types the reply, chooses the outcome with the arrows and sends it with Enter.
#[test]
fn a_clerk_replies_from_the_inbox_with_the_keyboard_only() {
    use common::browser::keys::{DOWN, ENTER, SPACE};
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "kbd");
    let operator = app.staff_token(&admin, "operator", None);
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let clerk = app.staff_account(&admin, "department", Some(&dept));
    let (id, number) = file_by_api(&app, &operator, "Keyboard-only reply");
    let r = app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}));
    assert_eq!(r.status, 200, "{}", r.body);

    let b = Browser::start();
    b.goto(&app.url("/staff/login?lang=en"));
    b.tab_to("#f-email");
    b.type_keys(&clerk);
    b.tab_to("#f-password");
    b.type_keys(common::TEST_PASSWORD);
    b.press(&[ENTER]);
    b.wait_for_path("/staff/inbox");
    b.tab_to(&format!("a[href='/staff/complaints/{id}']"));
    b.press(&[ENTER]);
    b.wait_for_path(&format!("/staff/complaints/{id}"));
    assert!(b.body_text().contains(&number));
    b.tab_to("#f-reply-text");
    b.type_keys("The permit was granted today; the decision is attached to your file.");
    // Into the outcome group: Space chooses the first, Down moves the choice to the second.
    b.tab_to("input[name=outcome]");
    b.press(&[SPACE, DOWN]);
    let chosen = b.script("return document.querySelector('input[name=outcome]:checked').value;");
    assert_eq!(chosen, json!("explained"), "focus on {}", b.focused());
    b.tab_to("form[action$='/reply/preview'] button[type=submit]");
    b.press(&[ENTER]);
    // The preview: Tab to "send the reply", Enter.
    b.find("#confirm-reply");
    b.tab_to("#confirm-reply button");
    b.press(&[ENTER]);
    b.find("#reply-text");
    assert_eq!(status_of(&app, &coordinator, &id), "replied");
    assert_eq!(b.text("#reply-outcome"), "Explained");
}

#[test]
fn the_intake_form_speaks_of_the_caller_and_its_error_summary_names_the_fields() {
    let app = spawn_app();
    let admin = app.admin_token();
    let operator = app.staff_account(&admin, "operator", None);
    let session = sign_in(&app, &operator);

    let page = get(&app, "/staff/intake?lang=en", Some(&session));
    assert_eq!(page.status, 200);
    for caller in
        ["Caller&#x27;s name", "The caller is", "What the caller asks for", "Language of the caller&#x27;s notices"]
    {
        assert!(page.body.contains(caller), "the intake form lacks {caller:?}");
    }
    for investor in [">Your name", ">You are", ">What you ask for", "Agent acting for you"] {
        assert!(!page.body.contains(investor), "the intake form speaks to the investor: {investor:?}");
    }
    // The public form keeps the investor's wording.
    let public = app.request("GET", "/?lang=en", None, &[], None);
    assert!(public.body.contains(">Your name") && !public.body.contains("Caller"), "{}", public.body);

    // A form sent with the caller's name missing: the summary names it as the form does.
    let token = csrf_of(&page);
    let mut fields: Vec<(&str, &str)> =
        intake_fields("停电").into_iter().filter(|(k, _)| *k != "complainant.name").collect();
    fields.push(("csrf", &token));
    let r = post_intake(&app, &session, &fields);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("<a href=\"#f-complainant-name\">来电人姓名：此项必填。</a>"), "{}", r.body);
    assert!(r.body.contains("<title>错误："), "{}", &r.body[..400.min(r.body.len())]);
}

#[test]
fn the_complaint_page_shows_the_matter_and_its_files_before_the_forms() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let operator = app.staff_token(&admin, "operator", None);
    let coordinator = app.staff_account(&admin, "coordinator", None);
    let clerk = app.staff_account(&admin, "department", Some(&dept));
    let (id, _) = file_by_api(&app, &operator, "Permit delayed");

    let position = |page: &Resp, marker: &str| page.body.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let page = get(&app, &format!("/staff/complaints/{id}?lang=en"), Some(&sign_in(&app, &coordinator)));
    assert_eq!(page.status, 200, "{}", page.body);
    let forms = position(&page, "id=\"coordinator-actions\"");
    for reading in ["id=\"clock-heading\"", "id=\"matter-heading\"", "id=\"who-heading\"", "id=\"files-heading\""] {
        assert!(position(&page, reading) < forms, "{reading} comes after the coordinator's forms");
    }
    let r = app.post(
        &format!("/api/v1/complaints/{id}/assign"),
        Some(&app.token_for(&coordinator, common::TEST_PASSWORD)),
        &json!({"department_id": dept}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = get(&app, &format!("/staff/complaints/{id}?lang=en"), Some(&sign_in(&app, &clerk)));
    let forms = position(&page, "id=\"department-actions\"");
    for reading in ["id=\"matter-heading\"", "id=\"who-heading\"", "id=\"files-heading\""] {
        assert!(position(&page, reading) < forms, "{reading} comes after the department's forms");
    }
    // The record of what happened stays last.
    assert!(forms < position(&page, "id=\"timeline-heading\""));
}

#[test]
fn a_reply_is_previewed_in_the_investors_language_before_it_is_sent() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let operator = app.staff_token(&admin, "operator", None);
    let coordinator = app.staff_token(&admin, "coordinator", None);
    // Filed in English (complaint_json("en")); the clerk reads the pages in Chinese.
    let (id, number) = file_by_api(&app, &operator, "Permit delayed");
    let r = app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}));
    assert_eq!(r.status, 200, "{}", r.body);
    let clerk = sign_in(&app, &app.staff_account(&admin, "department", Some(&dept)));
    let page = get(&app, &format!("/staff/complaints/{id}?lang=zh"), Some(&clerk));
    assert!(page.body.contains("id=\"reply-language\""), "{}", page.body);
    assert!(page.body.contains("英文 (English)"), "the investor's language beside the box: {}", page.body);
    let token = csrf_of(&page);
    let preview_path = format!("/staff/complaints/{id}/reply/preview");
    let text = "The permit was granted on 20 November <b>today</b>.";

    let preview = post(&app, &preview_path, Some(&clerk), &[("csrf", &token), ("text", text), ("outcome", "resolved")]);
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("&lt;b&gt;today&lt;&#x2f;b&gt;"), "the text as typed, escaped: {}", preview.body);
    // In the investor's language, whatever the clerk reads: the outcome, the tracking page's
    // heading, the email.
    assert!(preview.body.contains("<p class=\"meta\" id=\"preview-outcome\">Resolved</p>"), "{}", preview.body);
    let subject =
        format!("<strong id=\"preview-email-subject\">A reply to your complaint is available ({number})</strong>");
    assert!(preview.body.contains(&subject), "the email's subject in English: {}", preview.body);
    assert!(preview.body.contains("The department handling your complaint has replied."), "{}", preview.body);
    assert!(preview.body.contains("lang=\"en\""), "{}", preview.body);
    assert!(preview.body.contains("答复预览"), "the page itself speaks the clerk's language");
    assert_eq!(status_of(&app, &coordinator, &id), "assigned", "a preview writes nothing");

    // Missing outcome: the form again, with the message.
    let r = post(&app, &preview_path, Some(&clerk), &[("csrf", &token), ("text", text)]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"e-reply-outcome\""), "{}", r.body);
    // "Change it": the complaint page with the reply as typed, no error.
    let r = post(
        &app,
        &preview_path,
        Some(&clerk),
        &[("csrf", &token), ("text", text), ("outcome", "resolved"), ("edit", "1")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("The permit was granted on 20 November &lt;b&gt;today"), "{}", r.body);
    assert!(!r.body.contains("id=\"error-summary\""), "{}", r.body);
    // The confirmation is the reply form's own post.
    let r = post(
        &app,
        &format!("/staff/complaints/{id}/reply"),
        Some(&clerk),
        &[("csrf", &token), ("text", text), ("outcome", "resolved")],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(status_of(&app, &coordinator, &id), "replied");
    // Once replied, there is nothing to preview.
    let r = post(&app, &preview_path, Some(&clerk), &[("csrf", &token), ("text", text), ("outcome", "resolved")]);
    assert_eq!(r.status, 409, "{}", r.body);
}

#[test]
fn an_operator_finds_a_callers_complaint_by_phone_name_or_company() {
    let app = spawn_app();
    let admin = app.admin_token();
    let operator_token = app.staff_token(&admin, "operator", None);
    let file = |name: &str, company: &str, phone: &str, subject: &str| {
        let mut body = complaint_json("zh");
        body["complainant"]["name"] = json!(name);
        body["complainant"]["company"] = json!(company);
        body["complainant"]["phone"] = json!(phone);
        body["subject"] = json!(subject);
        body["channel"] = json!("hotline");
        body["contact_consent"] = json!(true);
        let r = app.post("/api/v1/complaints", Some(&operator_token), &body);
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["tracking_number"].as_str().unwrap().to_string()
    };
    let wang = file("王芳", "郴州新材料有限公司", "+86 (735) 222-3344", "停电");
    let mueller = file("Anna Müller", "Hunan Precision Parts GmbH", "+49 30 1234567", "Permit");
    let operator = sign_in(&app, &app.staff_account(&admin, "operator", None));
    let search = |q: &str| {
        let query = serde_urlencoded::to_string([("q", q), ("lang", "en")]).unwrap();
        get(&app, &format!("/staff/status?{query}"), Some(&operator))
    };
    let found = |page: &Resp| -> Vec<String> {
        page.body
            .split("<th scope=\"row\"><a href=\"/staff/status?number=")
            .skip(1)
            .map(|s| s.split('"').next().unwrap().to_string())
            .collect()
    };

    // The phone as the caller says it, without the country code or the separators.
    let r = search("0735 2223344");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(found(&r), vec![wang.clone()], "{}", r.body);
    // What a match shows: enough to tell callers apart, not the email or the matter.
    assert!(r.body.contains("…3344") && r.body.contains("王芳") && r.body.contains("郴州新材料有限公司"), "{}", r.body);
    assert!(!r.body.contains("+86 (735) 222-3344") && !r.body.contains("anna.mueller@example.de"), "{}", r.body);
    assert!(!r.body.contains("停电"), "the subject is for the status page: {}", r.body);
    // By name (any case) and by part of the company.
    assert_eq!(found(&search("anna müller")), vec![mueller.clone()]);
    assert_eq!(found(&search("Precision Parts")), vec![mueller.clone()]);
    assert_eq!(found(&search("新材料")), vec![wang.clone()]);
    // By number, and nothing for strangers.
    assert_eq!(found(&search(&mueller.to_lowercase())), vec![mueller.clone()]);
    let none = search("Nobody Ltd");
    assert_eq!(found(&none), Vec::<String>::new());
    assert!(none.body.contains("Nothing found"), "{}", none.body);
    // Too short to search.
    let short = search("王");
    assert_eq!(short.status, 422, "{}", short.body);
    assert!(short.body.contains("id=\"e-q\""), "{}", short.body);
    // A match leads to the status read-back.
    let r = get(&app, &format!("/staff/status?number={wang}&lang=en"), Some(&operator));
    assert!(r.body.contains("停电"), "{}", r.body);

    // Only those who read statuses back may search: a department may not.
    let dept = app.create_department(&admin, "land");
    let clerk = sign_in(&app, &app.staff_account(&admin, "department", Some(&dept)));
    assert_eq!(get(&app, "/staff/status?q=Anna", Some(&clerk)).status, 403);
}

#[test]
fn a_phone_only_caller_is_told_by_the_hotline_and_each_call_is_recorded() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let clerk = app.staff_token(&admin, "department", Some(&dept));
    let operator = sign_in(&app, &app.staff_account(&admin, "operator", None));
    let outbox_to = |recipient: &str| -> usize {
        use anshang::db::schema::outbox;
        use diesel::prelude::*;
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
        outbox::table
            .filter(outbox::recipient.eq(recipient))
            .count()
            .get_result::<i64>(&mut pool.get().unwrap())
            .unwrap() as usize
    };

    // The intake form takes a caller with a phone and no email.
    let page = get(&app, "/staff/intake?lang=en", Some(&operator));
    assert!(page.body.contains("Caller&#x27;s email (leave empty if they have none)"), "{}", page.body);
    let token = csrf_of(&page);
    let mut fields: Vec<(&str, &str)> = intake_fields("停电")
        .into_iter()
        .map(|(k, v)| if k == "complainant.email" { (k, "") } else { (k, v) })
        .collect();
    fields.push(("csrf", &token));
    let r = post_intake(&app, &operator, &fields);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("来电人没有电子邮箱"), "the operator reads it out now: {}", r.body);
    let listed = app.get("/api/v1/complaints?q=%E5%81%9C%E7%94%B5", Some(&coordinator)).json();
    let id = listed["items"][0]["id"].as_str().unwrap().to_string();
    let number = listed["items"][0]["tracking_number"].as_str().unwrap().to_string();
    assert_eq!(outbox_to(""), 0, "no email to an empty address (the receipt is read out on the call)");
    // The public form still needs an address.
    let mut public = complaint_json("zh");
    public["complainant"]["email"] = json!("");
    app.post("/api/v1/complaints", None, &public).assert_problem(422, "invalid-field");

    // The department asks a question: a call to make, in the caller's language.
    let r = app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(
        &format!("/api/v1/complaints/{id}/request-info"),
        Some(&clerk),
        &json!({"question": "请提供供电合同编号。"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(outbox_to(""), 0);
    let list = get(&app, "/staff/callbacks?lang=en", Some(&operator));
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(
        list.body.contains(&number) && list.body.contains("王芳") && list.body.contains("+852 2345 6789"),
        "{}",
        list.body
    );
    assert!(list.body.contains("请提供供电合同编号。"), "the question, to read out: {}", list.body);
    assert_eq!(list.body.matches("action=\"/staff/callbacks/").count(), 1, "{}", list.body);

    // The call made: off the list, on the record.
    let callback = list.body.split("action=\"/staff/callbacks/").nth(1).unwrap().split('/').next().unwrap().to_string();
    let path = format!("/staff/callbacks/{callback}/done");
    let r = post(&app, &path, Some(&operator), &[("csrf", &token)]);
    assert_eq!(r.status, 303, "{}", r.body);
    let list = get(&app, "/staff/callbacks?lang=en&done=called", Some(&operator));
    assert!(list.body.contains("id=\"no-callbacks\"") && list.body.contains("Marked as called"), "{}", list.body);
    let trail = app.get(&format!("/api/v1/complaints/{id}/events"), Some(&coordinator));
    assert_eq!(trail.status, 200, "{}", trail.body);
    assert!(trail.body.contains("\"called_back\""), "{}", trail.body);
    // Twice is once.
    let r = post(&app, &path, Some(&operator), &[("csrf", &token)]);
    assert_eq!(r.status, 404, "{}", r.body);

    // Only operators keep the list.
    let office = sign_in(&app, &app.staff_account(&admin, "coordinator", None));
    assert_eq!(get(&app, "/staff/callbacks", Some(&office)).status, 403);
    assert_eq!(post(&app, &path, Some(&office), &[("csrf", "x")]).status, 403);
}

/// Internal notes on the complaint page: the coordinator and then the holding clerk write one;
/// both read them in order with who wrote them, the timeline records them, an empty note is
/// refused beside its box, and the investor's tracking page shows none of it.
#[test]
fn staff_keep_internal_notes_the_investor_never_sees() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "notes");
    let coordinator = app.staff_account(&admin, "coordinator", None);
    let clerk = app.staff_account(&admin, "department", Some(&dept));
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (id, number, code) = (
        filed["id"].as_str().unwrap().to_string(),
        filed["tracking_number"].as_str().unwrap().to_string(),
        filed["access_code"].as_str().unwrap().to_string(),
    );
    let page_path = format!("/staff/complaints/{id}?lang=en");
    let note_path = format!("/staff/complaints/{id}/notes");

    let office = sign_in(&app, &coordinator);
    let page = get(&app, &page_path, Some(&office));
    assert!(page.body.contains("id=\"no-notes\""), "{}", page.body);
    assert!(page.body.contains("never by the investor"));
    let r =
        post(&app, &note_path, Some(&office), &[("csrf", &csrf_of(&page)), ("text", "INTERNAL-A called the bureau")]);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.header("location").unwrap().ends_with("?done=note#notes"), "{:?}", r.header("location"));
    let r = app.post(
        &format!("/api/v1/complaints/{id}/assign"),
        Some(&app.token_for(&coordinator, common::TEST_PASSWORD)),
        &json!({"department_id": dept}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let desk = sign_in(&app, &clerk);
    let page = get(&app, &page_path, Some(&desk));
    // An empty note is refused beside its box; nothing is recorded.
    let refused = post(&app, &note_path, Some(&desk), &[("csrf", &csrf_of(&page)), ("text", "  ")]);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"e-note-text\""), "{}", refused.body);
    let r =
        post(&app, &note_path, Some(&desk), &[("csrf", &csrf_of(&page)), ("text", "INTERNAL-B site visit Thursday")]);
    assert_eq!(r.status, 303, "{}", r.body);
    let page = get(&app, &format!("/staff/complaints/{id}?lang=en&done=note"), Some(&desk));
    assert!(page.body.contains("The internal note is saved."));
    let notes = &page.body[page.body.find("id=\"note-list\"").expect("the notes")..];
    let (a, b) = (notes.find("INTERNAL-A").unwrap(), notes.find("INTERNAL-B").unwrap());
    assert!(a < b, "oldest first");
    assert!(notes[..a].contains("Coordination office") && notes[a..b].contains("Department"));
    let timeline = &page.body[page.body.find("id=\"timeline\"").unwrap()..];
    assert_eq!(timeline.matches("Internal note").count(), 2, "{timeline}");

    // The investor's page: none of it.
    let opened = app.request(
        "POST",
        "/track",
        None,
        &[],
        Some(("application/x-www-form-urlencoded", form_body(&[("tracking_number", &number), ("access_code", &code)]))),
    );
    assert_eq!(opened.status, 303, "{}", opened.body);
    let session = opened
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("anshang_track="))
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .unwrap();
    let tracking = app.request("GET", "/track?lang=en", None, &[("Cookie", session.as_str())], None);
    assert_eq!(tracking.status, 200);
    assert!(tracking.body.contains(&number) && !tracking.body.contains("INTERNAL"), "{}", tracking.body);
}

/// The coordinator sees a repeated complaint's possible duplicates with links, the duplicate
/// form preset to the most similar one, a wrong number refused beside the box, and after
/// closing, the status and the record say which complaint carries the matter. A department
/// sees no hints.
#[test]
fn the_coordinator_sees_possible_duplicates_and_closes_one_as_a_duplicate() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "dupes");
    let coordinator = app.staff_account(&admin, "coordinator", None);
    let clerk = app.staff_account(&admin, "department", Some(&dept));
    let mut body = complaint_json("zh");
    body["subject"] = json!("施工许可证逾期未办理");
    let first = app.post("/api/v1/complaints", None, &body).json();
    body["subject"] = json!("施工许可证至今未办理");
    let second = app.post("/api/v1/complaints", None, &body).json();
    let (first_number, second_id) = (first["tracking_number"].as_str().unwrap(), second["id"].as_str().unwrap());

    let office = sign_in(&app, &coordinator);
    let page = get(&app, &format!("/staff/complaints/{second_id}?lang=en"), Some(&office));
    assert_eq!(page.status, 200, "{}", page.body);
    let hints = &page.body[page.body.find("id=\"duplicates\"").expect("the duplicates")..];
    let hints = &hints[..hints.find("</section>").unwrap()];
    assert!(hints.contains(&format!("href=\"/staff/complaints/{}\"", first["id"].as_str().unwrap())), "{hints}");
    assert!(hints.contains("same email") && hints.contains("same company"), "{hints}");
    let form = &page.body[page.body.find("id=\"duplicate-form\"").expect("the duplicate form")..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(form.contains(&format!("value=\"{first_number}\"")), "preset to the hint: {form}");

    let csrf = csrf_of(&page);
    let path = format!("/staff/complaints/{second_id}/mark-duplicate?lang=en");
    let refused = post(&app, &path, Some(&office), &[("csrf", &csrf), ("duplicate_of", "CZ-2020-000001")]);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"e-duplicate-duplicate_of\"")
            && refused.body.contains("No complaint has this tracking number"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("value=\"CZ-2020-000001\""), "what was typed is kept");
    let done = post(&app, &path, Some(&office), &[("csrf", &csrf), ("duplicate_of", first_number)]);
    assert_eq!(done.status, 303, "{}", done.body);
    let page = get(&app, &format!("/staff/complaints/{second_id}?lang=en&done=duplicate"), Some(&office));
    assert!(page.body.contains("Closed as a duplicate. The investor is notified."));
    assert!(
        page.body.contains(&format!("Tracking number of the complaint it repeats: {first_number}")),
        "the record says which"
    );
    assert!(
        page.body.contains(&format!("本投诉与此前提交的投诉 {first_number} 反映的是同一事项")),
        "the investor's answer, in Chinese"
    );

    // A department holding the first complaint sees no hints.
    let r = app.post(
        &format!("/api/v1/complaints/{}/assign", first["id"].as_str().unwrap()),
        Some(&app.token_for(&coordinator, common::TEST_PASSWORD)),
        &json!({"department_id": dept}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let page = get(
        &app,
        &format!("/staff/complaints/{}?lang=en", first["id"].as_str().unwrap()),
        Some(&sign_in(&app, &clerk)),
    );
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("id=\"duplicates\""));
}

/// The hotline and the department as they walk it on a phone (390 px) and a desktop (1280 px),
/// in Chinese and in English: the operator records a caller who has only a phone, finds the
/// complaint again by the caller's phone number, the coordination office assigns it from its
/// queue, and the clerk's reply goes through the preview to the confirmation. No page scrolls
/// sideways; each is screenshot and checked for accessibility at both widths.
fn a_phone_callers_complaint_is_recorded_found_assigned_and_answered(width: u32, lang: &str) {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "landres");
    let operator = app.staff_account(&admin, "operator", None);
    let coordinator = app.staff_account(&admin, "coordinator", None);
    let department = app.staff_account(&admin, "department", Some(&dept));
    let b = Browser::start();
    b.set_width(width);
    let on_page = |what: &str| {
        assert_eq!(b.script("return document.documentElement.lang"), common::html_lang(lang), "{what}");
        assert!(!b.overflows_horizontally(), "{what} scrolls sideways at {width} px");
        b.screenshots(&format!("journey-{what}-{lang}"));
    };

    // The operator records a caller with a phone and no email address.
    browser_sign_in(&b, &app, &operator, "/staff/intake");
    b.goto(&app.url(&format!("/staff/intake?lang={lang}")));
    fill_complaint_zh(&b, &dept, "工厂一周停电三次");
    b.script("document.getElementById('f-complainant-email').value = '';");
    b.type_into("#f-complainant-phone", "+86 (735) 222-3344");
    b.choose("#f-channel", "hotline");
    b.click("#consent-yes");
    on_page("intake-phone-only");
    // The subject forgotten (the browser's own check off): the mistake named; the form, shown
    // in answer to the post, switches language as typed and files nothing.
    let other = if lang == "zh" { "en" } else { "zh" };
    b.type_into("#f-subject", " ");
    b.script("document.getElementById('intake-form').noValidate = true;");
    b.click("form[action='/staff/intake'] button[type=submit]");
    b.find("#error-summary");
    b.switch_language(other);
    b.find("#error-summary");
    assert!(
        b.text("#error-summary").contains(if other == "zh" { "标题" } else { "Subject" }),
        "{}",
        b.text("#error-summary")
    );
    assert_eq!(b.value("#f-complainant-phone"), "+86 (735) 222-3344", "what was typed is kept");
    b.switch_language(lang);
    b.find("#error-summary");
    on_page("intake-error");
    b.type_into("#f-subject", "工厂一周停电三次");
    b.click("#consent-yes");
    b.click("form[action='/staff/intake'] button[type=submit]");
    let number = b.text("#tracking-number");
    let told = if lang == "zh" { "来电人没有电子邮箱" } else { "The caller has no email address" };
    assert!(b.body_text().contains(told), "{}", b.body_text());
    on_page("filed-phone-only");
    // Shown once after the post, yet it switches: the number and code go back in the body.
    let code = b.text("#access-code");
    b.switch_language(other);
    assert_eq!((b.text("#tracking-number"), b.text("#access-code")), (number.clone(), code.clone()));
    b.switch_language(lang);
    assert_eq!(b.text("#access-code"), code);

    // Later the caller has lost the number: found by the phone as they say it.
    b.goto(&app.url(&format!("/staff/status?lang={lang}")));
    b.type_into("#f-q", "0735 2223344");
    b.click("form[aria-labelledby='search-heading'] button[type=submit]");
    b.find("#search-results");
    assert_eq!(b.count("#search-results tbody tr"), 1);
    assert!(b.text("#search-results").contains("…3344"), "{}", b.text("#search-results"));
    on_page("search-by-phone");
    b.click(&format!("#search-results a[href='/staff/status?number={number}']"));
    b.find("#status");
    assert!(b.body_text().contains("工厂一周停电三次"));
    on_page("status-read-back");
    sign_out(&b);

    // The coordination office assigns it from its queue.
    browser_sign_in(&b, &app, &coordinator, "/staff/inbox");
    b.goto(&app.url(&format!("/staff/inbox?lang={lang}")));
    let queued = format!("#queue-{number}");
    b.find(&queued);
    assert_eq!(b.value(&format!("{queued} select")), dept, "the department the caller named is preselected");
    on_page("queue");
    b.click(&format!("{queued} button[type=submit]"));
    b.find("#done");
    assert_eq!(b.count(&queued), 0);
    sign_out(&b);

    // The clerk replies: a preview in the caller's language, then the confirmation.
    browser_sign_in(&b, &app, &department, "/staff/inbox");
    b.goto(&app.url(&format!("/staff/inbox?lang={lang}")));
    b.click(&format!("#row-{number} a"));
    b.find("#reply-form");
    let no_email =
        if lang == "zh" { "没有（通知列入“回电”清单" } else { "None (notices go on the call-back list" };
    assert!(b.text("#complainant-email").starts_with(no_email), "{}", b.text("#complainant-email"));
    on_page("complaint-to-answer");
    let reply = "供电公司已于11月20日更换变压器，此后未再停电。";
    b.type_into("#f-reply-text", reply);
    b.click("#outcome-resolved");
    let caller_reads = if lang == "zh" { "简体中文" } else { "Simplified Chinese" };
    assert!(b.text("#reply-language").contains(caller_reads), "{}", b.text("#reply-language"));
    b.click("#reply-form button[type=submit]");
    b.find("#as-tracked");
    assert_eq!(b.text("#preview-text"), reply);
    on_page("reply-preview");
    // The preview in the other language and back: still a preview, nothing sent.
    b.switch_language(other);
    b.find("#as-tracked");
    assert_eq!(b.text("#preview-text"), reply);
    b.switch_language(lang);
    b.find("#as-tracked");
    b.click("#confirm-reply button");
    b.find("#reply-text");
    assert_eq!(b.text("#reply-text"), reply);
    assert_eq!(b.text("#status"), if lang == "zh" { "已答复" } else { "Replied" });
    on_page("replied");
}

#[test]
fn the_hotline_and_the_clerk_on_a_phone_in_chinese() {
    a_phone_callers_complaint_is_recorded_found_assigned_and_answered(common::browser::PHONE_WIDTH, "zh");
}

#[test]
fn the_hotline_and_the_clerk_on_a_phone_in_english() {
    a_phone_callers_complaint_is_recorded_found_assigned_and_answered(common::browser::PHONE_WIDTH, "en");
}

#[test]
fn the_hotline_and_the_clerk_on_a_desktop_in_chinese() {
    a_phone_callers_complaint_is_recorded_found_assigned_and_answered(1280, "zh");
}

#[test]
fn the_hotline_and_the_clerk_on_a_desktop_in_english() {
    a_phone_callers_complaint_is_recorded_found_assigned_and_answered(1280, "en");
}

/// The language switch of the intake form posts the form again with `switch=1`: even a form
/// with nothing wrong comes back as typed, in the language asked for, and nothing is filed.
#[test]
fn the_intake_forms_language_switch_files_nothing() {
    let app = spawn_app();
    let admin = app.admin_token();
    let operator = sign_in(&app, &app.staff_account(&admin, "operator", None));
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let page = get(&app, "/staff/intake?lang=zh", Some(&operator));
    let token = csrf_of(&page);
    let mut fields = intake_fields("停电");
    fields.push(("csrf", &token));
    let (content_type, body) = multipart(&fields);
    let switched = app.request(
        "POST",
        "/staff/intake?lang=en&switch=1",
        None,
        &[("Cookie", &format!("anshang_staff={operator}"))],
        Some((&content_type, body)),
    );
    assert_eq!(switched.status, 200, "{}", switched.body);
    assert!(switched.body.contains("<html lang=\"en\""), "{}", switched.body);
    assert!(switched.body.contains("value=\"郴州新材料有限公司\""), "as typed: {}", switched.body);
    assert!(!switched.body.contains("id=\"tracking-number\""), "{}", switched.body);
    let listed = app.get("/api/v1/complaints", Some(&coordinator)).json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(0), "nothing filed: {listed}");
    // Without the switch the same post files.
    let r = post_intake(&app, &operator, &fields);
    assert!(r.body.contains("id=\"tracking-number\""), "{}", r.body);
    assert_eq!(app.get("/api/v1/complaints", Some(&coordinator)).json()["items"].as_array().map(Vec::len), Some(1));
}

/// The intake's answer shown again by its language switch only to whoever holds the number and
/// the code it showed: a wrong code is refused and nothing is filed either way.
#[test]
fn the_intake_answer_is_shown_again_only_for_its_own_number_and_code() {
    let app = spawn_app();
    let admin = app.admin_token();
    let operator = sign_in(&app, &app.staff_account(&admin, "operator", None));
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let token = csrf_of(&get(&app, "/staff/intake?lang=zh", Some(&operator)));
    let mut fields = intake_fields("停电");
    fields.push(("csrf", &token));
    let filed = post_intake(&app, &operator, &fields);
    let code_of = |body: &str| {
        let part = body.split("name=\"access_code\" value=\"").nth(1).expect("the switch's form carries the code");
        part.split('"').next().unwrap().to_string()
    };
    let code = code_of(&filed.body);
    let number = filed.body.split("name=\"tracking_number\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let again = |code: &str| {
        post(
            &app,
            "/staff/intake/receipt?lang=en&switch=1",
            Some(&operator),
            &[("csrf", &token), ("tracking_number", number), ("access_code", code)],
        )
    };
    let shown = again(&code);
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(
        shown.body.contains("<html lang=\"en\"") && shown.body.contains("The complaint is recorded"),
        "{}",
        shown.body
    );
    assert_eq!(code_of(&shown.body), code);
    let wrong = again("AAAA-BBBB-CCCC-DDDD-EEEE");
    assert_eq!(wrong.status, 404, "{}", wrong.body);
    assert!(!wrong.body.contains("AAAA-BBBB"), "the code typed is not echoed");
    assert_eq!(app.get("/api/v1/complaints", Some(&coordinator)).json()["items"].as_array().map(Vec::len), Some(1));
}
