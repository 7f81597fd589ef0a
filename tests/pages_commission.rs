//! The commission console in a real browser (headless Chromium): the commission signs in,
//! creates a round, imports a roll (refused whole with every wrong row named, then accepted from
//! a file), issues codes into a letters directory, opens, closes and publishes — each step
//! confirmed — and reads the year's assessment with its charts. Screenshots of every page in
//! both languages, 390 px layouts without sideways scrolling. Over plain HTTP: every console
//! page refuses anonymous visitors (to the sign-in page) and the wrong role (a 403 page), and
//! every form needs the session's form token.

mod common;

use common::browser::Browser;
use common::{spawn_app_with, TestApp, TEST_PASSWORD};
use serde_json::json;

fn no_sideways_scroll(b: &Browser, what: &str) {
    b.set_width(common::browser::PHONE_WIDTH);
    assert!(!b.overflows_horizontally(), "{what} scrolls sideways at 390 px");
    b.reset_width();
}

fn sign_in(b: &Browser, app: &TestApp, email: &str, lang: &str) {
    b.goto(&app.url(&format!("/staff/login?lang={lang}")));
    b.type_into("#f-email", email);
    b.type_into("#f-password", TEST_PASSWORD);
    b.click("form[action='/staff/login'] button[type=submit]");
}

/// Clicks a button that asks for confirmation, and confirms.
fn confirm_click(b: &Browser, css: &str) {
    b.click(css);
    b.accept_dialog();
}

/// A `datetime-local` value in Beijing time, `minutes` from now.
fn beijing(minutes: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::minutes(minutes);
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y-%m-%dT%H:%M").to_string()
}

fn set_value(b: &Browser, id: &str, value: &str) {
    b.script(&format!("document.getElementById('{id}').value = '{value}';"));
}

#[test]
fn the_commission_runs_a_round_through_the_pages_and_reads_the_assessment() {
    let sink = common::smtp::SmtpSink::start();
    let port = sink.port();
    let app = spawn_app_with(move |s| {
        s.ballots.attempts_per_client_per_minute = 1000;
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
    });
    let admin = app.admin_token();
    let depts: Vec<String> = ["cma", "cmb"].iter().map(|c| app.create_department(&admin, c)).collect();
    let commission = app.staff_account(&admin, "commission", None);
    // A complaint answered on time, so that the assessment's charts have a month to show.
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let department = app.staff_token(&admin, "department", Some(&depts[0]));
    let filed = app.post("/api/v1/complaints", None, &common::complaint_json("en"));
    assert_eq!(filed.status, 201, "{}", filed.body);
    let complaint = filed.json()["id"].as_str().unwrap().to_string();
    let r = app.post(
        &format!("/api/v1/complaints/{complaint}/assign"),
        Some(&coordinator),
        &json!({"department_id": depts[0]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post(
        &format!("/api/v1/complaints/{complaint}/reply"),
        Some(&department),
        &json!({"text": "Granted.", "outcome": "resolved"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let b = Browser::start();

    // The commission starts on the rounds page.
    sign_in(&b, &app, &commission, "en");
    b.wait_for_path("/staff/rounds");
    assert_eq!(b.text("h1"), "Ballot rounds");
    assert!(b.body_text().contains("No rounds yet."));
    b.screenshots("rounds-en");
    no_sideways_scroll(&b, "the rounds page");

    // A round that closes before it opens is refused, field by field, and the form is kept.
    b.type_into("#f-title", "2026 年度行风评议 / 2026 conduct evaluation");
    // "Select all" and "Select none" tick and clear every department; then two by hand.
    let ticked = || {
        b.script("return [...document.querySelectorAll('#f-department_ids input[type=checkbox]')].filter(c => c.checked).length;")
    };
    let all = b.count("#f-department_ids input[type=checkbox]");
    assert!(all >= 2);
    b.click("[data-select-all] button[data-check='all']");
    assert_eq!(ticked(), json!(all));
    b.click("[data-select-all] button[data-check='none']");
    assert_eq!(ticked(), json!(0));
    // k is explained in words, with an example.
    assert!(b.text("label[for='f-min_group_size']").starts_with("Fewest valid votes"));
    b.click("#dept-cma");
    b.click("#dept-cmb");
    set_value(&b, "f-opens_at", &beijing(-2));
    set_value(&b, "f-closes_at", &beijing(-3));
    b.click("#create-round button[type=submit]");
    b.find("#error-summary");
    assert!(b.text("#error-summary").contains("Voting must close after it opens."), "{}", b.text("#error-summary"));
    assert_eq!(b.value("#f-title"), "2026 年度行风评议 / 2026 conduct evaluation");
    assert!(b.script("return document.getElementById('dept-cmb').checked;").as_bool().unwrap());
    b.screenshots("rounds-error-en");

    // Created as a draft, with k = 3.
    set_value(&b, "f-closes_at", &beijing(60));
    b.type_into("#f-min_group_size", "3");
    b.click("#create-round button[type=submit]");
    // Created: the round's revocation key, shown this once, then on to the round.
    b.find("#revocation-note");
    let revocation_key = b.text("#revocation-key");
    assert!(revocation_key.starts_with("AGE-SECRET-KEY-1"), "{revocation_key}");
    b.screenshots("round-revocation-key-en");
    b.click("#back-to-round");
    b.wait_for_text("#round-status", "Draft");
    assert!(!b.body_text().contains(&revocation_key[15..]), "the round's page never shows the key");
    let round_path = b.path();
    let round_id = round_path.rsplit('/').next().unwrap().to_string();
    assert_eq!(b.text("h1"), "2026 年度行风评议 / 2026 conduct evaluation");
    assert!(b.body_text().contains("Department cma") && b.body_text().contains("Integrity (廉洁)"));
    b.screenshots("round-draft-en");
    no_sideways_scroll(&b, "the draft round");
    b.goto(&app.url(&format!("{round_path}?lang=zh")));
    assert_eq!(b.text("#round-status"), "草稿");
    b.screenshots("round-draft-zh");
    no_sideways_scroll(&b, "the draft round in Chinese");
    b.goto(&app.url(&format!("{round_path}?lang=en")));

    // A pasted roll with mistakes: nothing imported, every wrong row named.
    b.type_into(
        "#f-roll_text",
        "name,category,contact,departments\nGood Co,enterprise_served,paper,cma\nBad Co,tourist,nowhere,zzz\n",
    );
    b.click("#import-form button[type=submit]");
    b.find("#row-errors");
    let rows = b.text("#row-errors");
    assert!(rows.contains("Line 3") && rows.contains("category") && rows.contains("zzz"), "{rows}");
    assert!(!rows.contains("Line 2"), "{rows}");
    assert_eq!(b.text("#count-voters"), "0");
    // The pasted rows are kept in the box to be corrected, each shown with its mistake.
    assert!(b.value("#f-roll_text").contains("Bad Co,tourist,nowhere,zzz"), "{}", b.value("#f-roll_text"));
    assert!(b.text("#roll-line-3").contains("category"), "{}", b.text("#roll-line-3"));
    assert!(b.text("#roll-line-2").contains("Fine"), "{}", b.text("#roll-line-2"));
    b.screenshots("round-import-error-en");

    // The roll from a CSV file (as a spreadsheet saves it, with a byte-order mark).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("roll.csv");
    // Enterprise 1 reads English; the others leave the language empty (zh).
    let mut roll = String::from("\u{feff}name,category,contact,departments,language\n");
    for i in 1..=4 {
        let language = if i == 1 { "en" } else { "" };
        roll.push_str(&format!("企业{i} Enterprise {i},enterprise_served,paper,cma;cmb,{language}\n"));
    }
    roll.push_str("Monitor 5,conduct_monitor,monitor5@example.com,cma,en\n");
    std::fs::write(&file, roll).unwrap();
    b.type_into_file("#f-roll_file", &file);
    b.click("#import-form button[type=submit]");
    b.wait_for_text("#notice", "5 voter(s) imported.");
    assert_eq!(b.text("#count-voters"), "5");

    // Codes: the four paper letters come back at once as a printable page, shown this once and
    // never written to the server's disk; one email queued.
    confirm_click(&b, "#issue-codes");
    b.find("#letters-note");
    assert!(
        b.text("#letters-notice").contains("4 paper letter(s) made; 1 email(s) queued"),
        "{}",
        b.text("#letters-notice")
    );
    assert_eq!(b.count("section.letter"), 4);
    // Shown once, so it cannot be switched to the other language: its note speaks both.
    let note = b.text("#letters-note");
    assert!(note.contains("已生成 4 封纸质评议函") && note.contains("Back to the round · 返回评议轮次"), "{note}");
    assert_eq!(b.script("return document.querySelector('#letters-note p:nth-of-type(3)').lang"), "zh-Hans");
    let names: Vec<String> = b
        .script("return Array.from(document.querySelectorAll('section.letter .name')).map(e => e.textContent)")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let mut codes: Vec<String> = b
        .script("return Array.from(document.querySelectorAll('section.letter .code')).map(e => e.textContent)")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 4);
    assert!(b.text("section.letter .name").starts_with("企业"), "{}", b.text("section.letter .name"));
    // Each letter in its voter's language, with where and until when to vote.
    let english = b.text("section.letter:nth-of-type(1)");
    assert!(english.contains("Your one-time voting code:"), "{english}");
    assert!(english.contains(&format!("/vote?round={round_id}")), "{english}");
    assert!(english.contains("Beijing time (UTC+8)") && !english.contains("投票码"), "{english}");
    let chinese = b.text("section.letter:nth-of-type(2)");
    assert!(chinese.contains("投票地址") && chinese.contains(&format!("/vote?round={round_id}")), "{chinese}");
    assert!(chinese.contains("北京时间") && !chinese.contains("Vote at"), "{chinese}");
    let addresses = b.script(
        "return [...new Set([...document.querySelectorAll('section.letter .address')].map(e => e.textContent))]",
    );
    assert_eq!(addresses.as_array().map(Vec::len), Some(1), "one voting address on every letter: {addresses}");
    b.screenshots("round-letters-en");
    let mut on_disk = Vec::new();
    let mut stack = vec![app.data_dir.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                if codes.iter().any(|c| bytes.windows(c.len()).any(|w| w == c.as_bytes())) {
                    on_disk.push(path);
                }
            }
        }
    }
    assert!(on_disk.is_empty(), "codes written to the server's disk: {on_disk:?}");
    assert!(!app.data_dir.path().join("ballot-letters").exists());
    b.click("#back-to-round");
    b.wait_for_path(&round_path);
    // No code on the round's page; issuing again makes no letter.
    assert!(!b.body_text().contains(&codes[0]));
    assert_eq!(b.text("#count-issued"), "5");
    b.screenshots("round-issued-en");
    no_sideways_scroll(&b, "the issued notice");

    // Open (after the confirmation), then four ballots.
    // Opening answers with the round key's shares, once: one page per trustee (3, any 2 open).
    confirm_click(&b, "#open-round");
    b.find("#shares-note");
    let shares: Vec<String> = b
        .script("return Array.from(document.querySelectorAll('section.key-share .share')).map(e => e.textContent)")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(shares.len(), 3);
    assert!(shares.iter().all(|s| s.starts_with("ANSHANG-KEY-SHARE-")));
    b.screenshots("round-key-shares-en");
    b.click("#back-to-round");
    b.wait_for_text("#round-status", "Open");
    assert!(!b.body_text().contains(&shares[0][18..40]), "the round's page never shows a share");
    assert_eq!(b.text("#count-used"), "shown after voting closes");
    b.screenshots("round-open-en");

    // A voter lost their letter: the revocation key finds their code; a new letter, once.
    let lost = names.iter().position(|n| n.contains("Enterprise 2")).expect("a letter for Enterprise 2");
    b.type_into("#f-voter", &names[lost]);
    b.type_into("#f-revocation_key", &revocation_key);
    confirm_click(&b, "#reissue-code");
    b.find("#letters-note");
    assert_eq!(b.count("section.letter"), 1);
    assert_eq!(b.text("section.letter .name"), names[lost]);
    let replacement = b.text("section.letter .code");
    assert_ne!(replacement, codes[lost]);
    let old_code = std::mem::replace(&mut codes[lost], replacement);
    b.click("#back-to-round");
    b.wait_for_text("#round-status", "Open");
    let ratings: Vec<_> = depts.iter().map(|d| json!({"department_id": d, "answers": {"overall": "satisfied", "efficiency": "satisfied", "attitude": "satisfied", "integrity": "satisfied"}})).collect();
    let refused =
        app.post(&format!("/api/v1/ballots/{round_id}/cast"), None, &json!({"code": old_code, "ratings": ratings}));
    assert_eq!(refused.status, 409, "the lost code no longer votes: {}", refused.body);
    let answers = json!({"overall": "satisfied", "efficiency": "basically_satisfied", "attitude": "satisfied", "integrity": "dissatisfied"});
    for code in &codes {
        let ratings: Vec<_> = depts.iter().map(|d| json!({"department_id": d, "answers": answers})).collect();
        let r = app.post(&format!("/api/v1/ballots/{round_id}/cast"), None, &json!({"code": code, "ratings": ratings}));
        assert_eq!(r.status, 201, "{}", r.body);
    }

    // Close: the officers see the results before anyone else.
    confirm_click(&b, "#close-round");
    b.wait_for_text("#round-status", "Closed");
    assert_eq!(b.text("#count-used"), "4");
    // Sealed until two trustees enter their shares.
    assert_eq!(b.count("#tally"), 0);
    assert_eq!(b.count("#publish-round"), 0);
    b.screenshots("round-sealed-en");
    b.type_into("#f-key_shares", &format!("{}\n{}", shares[1], shares[2]));
    b.click("#unseal-round");
    b.find("#tally");
    assert!(b.text("#tally").contains("Department cma"));
    assert_eq!(app.get(&format!("/vote/{round_id}/results"), None).status, 404, "not public before publication");
    b.screenshots("round-closed-en");
    no_sideways_scroll(&b, "the closed round");
    b.goto(&app.url(&format!("{round_path}?lang=zh")));
    assert!(b.text("#tally").contains("部门cma"));
    b.screenshots("round-closed-zh");
    b.goto(&app.url(&format!("{round_path}?lang=en")));

    // A step out of turn (the page of an earlier state, posted again) is refused by name.
    let csrf = b.script("return document.querySelector('input[name=csrf]').value;").as_str().unwrap().to_string();
    b.script(&format!(
        "var f = document.createElement('form'); f.method = 'post'; f.action = '/staff/rounds/{round_id}/open';\
         var i = document.createElement('input'); i.name = 'csrf'; i.value = '{csrf}'; f.appendChild(i); document.body.appendChild(f); f.submit();"
    ));
    b.wait_for_text(
        "#error-summary p strong",
        "The round's current status does not allow this (someone may have done it already); reload the page.",
    );

    // Publish: the public results page is linked.
    b.goto(&app.url(&round_path));
    confirm_click(&b, "#publish-round");
    b.wait_for_text("#round-status", "Published");
    b.screenshots("round-published-en");
    b.click("#public-results");
    b.wait_for_text("h1", "Ballot results");
    assert_eq!(b.text("#codes-used"), "4");

    // The same pages in Chinese.
    b.goto(&app.url("/staff/rounds?lang=zh"));
    assert_eq!(b.text("h1"), "评议轮次");
    assert!(b.text("#rounds").contains("已公布"));
    b.screenshots("rounds-zh");
    b.goto(&app.url(&round_path));
    assert_eq!(b.text("#round-status"), "已公布");
    b.screenshots("round-published-zh");
    no_sideways_scroll(&b, "the published round");

    // The assessment: the year's ranking and its charts, drawn on the server.
    b.click("nav a[href='/staff/assessment']");
    b.wait_for_path("/staff/assessment");
    let year =
        chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y").to_string();
    assert_eq!(b.text("h1"), format!("{year} 年度部门考核"));
    assert_eq!(b.count("#chart-totals svg rect"), 2, "a bar per department");
    assert_eq!(b.count("#chart-trend svg"), 1);
    assert_eq!(b.count("#chart-on-time svg rect"), 1, "one department had complaints");
    assert_eq!(b.count("#chart-trend svg circle"), 1, "one month had reply clocks");
    assert!(b.text("#ranking").contains("部门cma"));
    b.screenshots("assessment-zh");
    no_sideways_scroll(&b, "the assessment");
    b.click("a.lang");
    b.wait_for_text("h1", &format!("Department assessment {year}"));
    b.screenshots("assessment-en");
    // Another year from the chooser.
    b.choose("#f-year", "2025");
    b.click("#year-form button");
    b.wait_for_text("h1", "Department assessment 2025");
    // The printable report with its own charts.
    b.click("#printable");
    b.wait_for_path("/staff/assessment/2025/print");
    assert!(b.body_text().contains("2025"));
    assert!(b.count("svg") >= 2);
    b.screenshot("assessment-print", 1280);
}

fn staff_cookie(token: &str) -> String {
    format!("anshang_staff={token}")
}

/// The form token a page gives this session.
fn csrf_of(body: &str) -> String {
    let at = body.find("name=\"csrf\" value=\"").expect("a form token on the page") + "name=\"csrf\" value=\"".len();
    body[at..].split('"').next().unwrap().to_string()
}

#[test]
fn console_pages_refuse_anonymous_visitors_other_roles_and_forms_without_the_token() {
    let app = common::spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "rfa");
    let commission = app.staff_token(&admin, "commission", None);
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let operator = app.staff_token(&admin, "operator", None);
    let department = app.staff_token(&admin, "department", Some(&dept));
    let now = chrono::Utc::now();
    let r = app.post(
        "/api/v1/ballots/rounds",
        Some(&commission),
        &json!({"title": "Round", "year": 2026, "department_ids": [dept], "opens_at": now.to_rfc3339(), "closes_at": (now + chrono::Duration::hours(1)).to_rfc3339()}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let round = r.json()["id"].as_str().unwrap().to_string();
    let round_page = format!("/staff/rounds/{round}");
    let get_pages = [
        "/staff/rounds".to_string(),
        round_page.clone(),
        "/staff/assessment".to_string(),
        "/staff/assessment/2026/print".to_string(),
    ];
    let form = |body: &str| Some(("application/x-www-form-urlencoded", body.as_bytes().to_vec()));
    let post_pages = [
        "/staff/rounds".to_string(),
        format!("{round_page}/issue-codes"),
        format!("{round_page}/reissue"),
        format!("{round_page}/open"),
        format!("{round_page}/close"),
        format!("{round_page}/publish"),
    ];

    // Anonymous: to the sign-in page, coming back here afterwards.
    for path in &get_pages {
        let r = app.get(path, None);
        assert_eq!(r.status, 303, "{path}");
        assert!(
            r.header("location").unwrap().starts_with("/staff/login?next=/staff/"),
            "{path}: {:?}",
            r.header("location")
        );
    }
    for path in &post_pages {
        let r = app.request("POST", path, None, &[], form("csrf=x"));
        assert_eq!(r.status, 303, "{path}");
    }

    // The wrong role: a 403 page in the reader's language. Rounds are for the ballot officers
    // (commission, coordination office); the assessment for them and administrators.
    let refused = |token: &str, path: &str| {
        let r = app.request("GET", path, None, &[("Cookie", &staff_cookie(token)), ("Accept-Language", "zh-CN")], None);
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.content_type.starts_with("text/html"), "{path}");
        assert!(r.body.contains("您无权进行此操作"), "{path}: {}", r.body);
    };
    for token in [&operator, &department, &admin] {
        refused(token, "/staff/rounds");
        refused(token, &round_page);
    }
    for token in [&operator, &department] {
        refused(token, "/staff/assessment");
        refused(token, "/staff/assessment/2026/print");
    }
    let r = app.request(
        "POST",
        &format!("{round_page}/open"),
        None,
        &[("Cookie", &staff_cookie(&operator))],
        form("csrf=x"),
    );
    assert_eq!(r.status, 403);
    for (token, path) in [
        (&coordinator, "/staff/rounds"),
        (&coordinator, round_page.as_str()),
        (&coordinator, "/staff/assessment"),
        (&admin, "/staff/assessment"),
    ] {
        let r = app.request("GET", path, None, &[("Cookie", &staff_cookie(token))], None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }

    // Forms without this session's token are refused and change nothing.
    let cookie = staff_cookie(&commission);
    let page = app.request("GET", &round_page, None, &[("Cookie", &cookie)], None);
    let csrf = csrf_of(&page.body);
    let other_session = staff_cookie(&app.staff_token(&admin, "commission", None));
    let other_csrf = csrf_of(&app.request("GET", &round_page, None, &[("Cookie", &other_session)], None).body);
    assert_ne!(csrf, other_csrf);
    for path in &post_pages {
        for body in [
            "".to_string(),
            "csrf=".to_string(),
            "csrf=0123456789abcdef0123456789abcdef".to_string(),
            format!("csrf={other_csrf}"),
        ] {
            let r = app.request("POST", path, None, &[("Cookie", &cookie), ("Accept-Language", "en")], form(&body));
            assert_eq!(r.status, 403, "{path} with {body:?}: {}", r.body);
            assert!(r.body.contains("You may not do this"), "{}", r.body);
        }
    }
    let r = app.request("POST", &format!("{round_page}/voters"), None, &[("Cookie", &cookie)], Some(("multipart/form-data; boundary=XYZ", b"--XYZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nwrong\r\n--XYZ\r\nContent-Disposition: form-data; name=\"roll_text\"\r\n\r\nname,category,contact,departments\nA,enterprise_served,paper,rfa\n\r\n--XYZ--\r\n".to_vec())));
    assert_eq!(r.status, 403, "{}", r.body);
    let status =
        |token: &str| app.get("/api/v1/ballots/rounds", Some(token)).json()[0]["status"].as_str().unwrap().to_string();
    assert_eq!(status(&commission), "draft");
    let view = app.get(&round_page, Some(&commission));
    assert_eq!(view.status, 303, "the pages never read the API's bearer token");

    // With the token the same post works, and a form from another site is refused anyway.
    let r = app.request(
        "POST",
        &format!("{round_page}/open"),
        None,
        &[("Cookie", &cookie), ("Origin", "https://evil.example")],
        form(&format!("csrf={csrf}")),
    );
    assert_eq!(r.status, 403);
    let r =
        app.request("POST", &format!("{round_page}/open"), None, &[("Cookie", &cookie)], form(&format!("csrf={csrf}")));
    // Opening answers with the key shares, once, never cached.
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("shares-note") && r.body.contains("ANSHANG-KEY-SHARE-"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(status(&commission), "open");

    // The printable report carries its own print styles: it is served under the application's
    // general policy (inline styles, no inline script), not cached.
    let r = app.request("GET", "/staff/assessment/2026/print", None, &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("style-src 'self' 'unsafe-inline'")
            && csp.contains("script-src 'self'")
            && !csp.contains("script-src 'self' 'unsafe-inline'"),
        "{csp}"
    );
    assert!(r.body.contains("<svg"));
    // The console pages themselves keep the strict policy.
    let r = app.request("GET", "/staff/assessment?year=2026", None, &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200);
    assert!(!r.header("content-security-policy").unwrap().contains("unsafe-inline"));
    assert!(r.body.contains("<svg class=\"chart\""), "the charts are in the page");
    assert_eq!(app.request("GET", "/staff/assessment?year=1999", None, &[("Cookie", &cookie)], None).status, 404);
}

/// The new-round form names every mistake in one answer: an unreadable date and the mistakes
/// the service finds in what could be read (an empty title, k out of range) together.
#[test]
fn the_new_round_form_names_every_mistake_at_once() {
    let app = common::spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "cma");
    let cookie = format!("anshang_staff={}", app.page_session(&app.staff_account(&admin, "commission", None)));
    let page = app.request("GET", "/staff/rounds?lang=en", None, &[("Cookie", cookie.as_str())], None);
    let csrf = page.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let body = common::form_body(&[
        ("csrf", &csrf),
        ("title", " "),
        ("year", "2026"),
        ("department_ids", &dept),
        ("opens_at", "yesterday"),
        ("closes_at", "2026-12-31T18:00"),
        ("min_group_size", "99"),
        ("points.satisfied", "100"),
        ("points.basically_satisfied", "70"),
        ("points.dissatisfied", "30"),
    ]);
    let r = app.request(
        "POST",
        "/staff/rounds?lang=en",
        None,
        &[("Cookie", cookie.as_str())],
        Some(("application/x-www-form-urlencoded", body)),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let summary = r.body.split("id=\"error-summary\"").nth(1).unwrap().split("</div>").next().unwrap();
    for field in ["title", "opens_at", "min_group_size"] {
        assert!(summary.contains(&format!("href=\"#f-{field}\"")), "{field} not named: {summary}");
    }
    assert!(!summary.contains("href=\"#f-closes_at\""), "no guess about a period half unread: {summary}");
    assert_eq!(
        app.get("/api/v1/ballots/rounds", Some(&app.staff_token(&admin, "commission", None)))
            .json()
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

/// Questions are built in fields, one row per question with its Chinese and English: the form
/// starts with the usual four and empty rows to add more; a row given in one language only is
/// named beside its empty box (what was typed kept, the section open); a row emptied is left
/// out; a new row gets a key of its own.
#[test]
fn the_new_round_form_builds_questions_from_fields_in_both_languages() {
    let app = common::spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "cma");
    let cookie = format!("anshang_staff={}", app.page_session(&app.staff_account(&admin, "commission", None)));
    let page = app.request("GET", "/staff/rounds?lang=en", None, &[("Cookie", cookie.as_str())], None);
    assert!(!page.body.contains("key | 中文 | English"), "no line syntax to learn");
    assert!(page.body.contains("<label for=\"f-question-3-en\">Question 4 in English"), "{}", page.body);
    assert!(page.body.contains("value=\"Integrity (廉洁)\""), "the usual questions are filled in");
    let (open_rows, folded) = page.body.split_once("id=\"more-questions\"").expect("more rows, folded");
    assert_eq!(open_rows.matches("class=\"inputs2 question-row\"").count(), 4 + 3, "four questions, three empty rows");
    assert_eq!(folded.matches("class=\"inputs2 question-row\"").count(), 20 - 7, "up to 20 under \"More rows\"");
    let csrf = page.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let post = |questions: &[(&str, &str)]| {
        let mut fields = vec![
            ("csrf", csrf.as_str()),
            ("title", "2026 行风评议"),
            ("year", "2026"),
            ("department_ids", dept.as_str()),
            ("opens_at", "2026-12-01T09:00"),
            ("closes_at", "2099-12-31T18:00"),
            ("min_group_size", "5"),
            ("points.satisfied", "100"),
            ("points.basically_satisfied", "70"),
            ("points.dissatisfied", "30"),
        ];
        fields.extend_from_slice(questions);
        app.request(
            "POST",
            "/staff/rounds?lang=en",
            None,
            &[("Cookie", cookie.as_str())],
            Some(("application/x-www-form-urlencoded", common::form_body(&fields))),
        )
    };

    // Question 2 only in Chinese: named beside its English box; nothing created.
    let half = post(&[
        ("question.0.key", "overall"),
        ("question.0.zh", "总体行风作风"),
        ("question.0.en", "Overall conduct"),
        ("question.1.key", ""),
        ("question.1.zh", "窗口指引是否清楚"),
        ("question.1.en", " "),
    ]);
    assert_eq!(half.status, 422, "{}", half.body);
    assert!(half.body.contains("href=\"#f-question-1-en\""), "{}", half.body);
    assert!(half.body.contains("id=\"e-question-1-en\"") && half.body.contains("Give this question in both languages"));
    assert!(half.body.contains("value=\"窗口指引是否清楚\""), "what was typed is kept");
    assert!(half.body.contains("<details class=\"fieldset\" open>"), "the questions are shown, not folded away");
    // No question at all: said once, for the whole list.
    let none = post(&[("question.0.zh", ""), ("question.0.en", "")]);
    assert_eq!(none.status, 422, "{}", none.body);
    assert!(none.body.contains("Give at least one question, in both languages."), "{}", none.body);
    // Too long for a ballot: named beside its box, and only there.
    let long = "x".repeat(201);
    let too_long = post(&[("question.0.zh", "题目"), ("question.0.en", long.as_str())]);
    assert_eq!(too_long.status, 422, "{}", too_long.body);
    assert!(too_long.body.contains("id=\"e-question-0-en\""), "{}", too_long.body);
    assert!(!too_long.body.contains("id=\"e-questions\""), "no second, vaguer message: {}", too_long.body);
    // A lone half-filled row: its box, not the list as a whole.
    let lone = post(&[("question.0.zh", "题目"), ("question.0.en", "")]);
    assert!(lone.body.contains("id=\"e-question-0-en\"") && !lone.body.contains("id=\"e-questions\""), "{}", lone.body);
    // Shown again with a mistake, every filled row is open, with three empty ones after it.
    let mut nine: Vec<(String, String)> = (0..9)
        .flat_map(|i| {
            [(format!("question.{i}.zh"), format!("题目{i}")), (format!("question.{i}.en"), format!("Question {i}"))]
        })
        .collect();
    nine.push(("question.9.zh".into(), "只有中文".into()));
    let pairs: Vec<(&str, &str)> = nine.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let again = post(&pairs);
    assert_eq!(again.status, 422, "{}", again.body);
    let open_again = again.body.split_once("id=\"more-questions\"").unwrap().0;
    assert_eq!(open_again.matches("class=\"inputs2 question-row\"").count(), 13, "{}", again.body);
    assert!(open_again.contains("value=\"Question 8\"") && open_again.contains("id=\"e-question-9-en\""));
    let token = app.staff_token(&admin, "commission", None);
    assert_eq!(app.get("/api/v1/ballots/rounds", Some(&token)).json().as_array().map(Vec::len), Some(0));

    // The first kept, the second emptied (left out), a new one in the last row: two questions.
    let created = post(&[
        ("question.0.key", "overall"),
        ("question.0.zh", "总体行风作风"),
        ("question.0.en", "Overall conduct"),
        ("question.1.key", "efficiency"),
        ("question.1.zh", ""),
        ("question.1.en", ""),
        ("question.6.key", "overall"),
        ("question.6.zh", "窗口指引是否清楚"),
        ("question.6.en", "Clear guidance at the counter"),
    ]);
    assert_eq!(created.status, 200, "{}", created.body);
    let rounds = app.get("/api/v1/ballots/rounds", Some(&token)).json();
    let questions = &rounds[0]["questions"];
    assert_eq!(
        questions,
        &serde_json::json!([
            {"key": "overall", "text_zh": "总体行风作风", "text_en": "Overall conduct"},
            {"key": "q7", "text_zh": "窗口指引是否清楚", "text_en": "Clear guidance at the counter"}
        ]),
        "{rounds}"
    );
}
