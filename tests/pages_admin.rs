//! The administrator's pages: accounts (create with a one-time password shown once, deactivate
//! and reactivate, reset to a one-time password; every mistake of the new-account form at once)
//! and the holiday calendar (the years in force with their source; loading an official year
//! after a dry run that lists the open deadlines it moves). Each goes through the API's
//! services: what the page did, the API sees. Only administrators reach them.

mod common;

use anshang::calendar::{CalendarYear, OffDay};
use common::{complaint_json, spawn_app, Resp, TestApp};
use serde_json::{json, Value};

fn get(app: &TestApp, path: &str, cookie: &str) -> Resp {
    app.request("GET", path, None, &[("Cookie", &format!("anshang_staff={cookie}"))], None)
}

fn post(app: &TestApp, path: &str, cookie: &str, pairs: &[(&str, &str)]) -> Resp {
    app.request(
        "POST",
        path,
        None,
        &[("Cookie", &format!("anshang_staff={cookie}"))],
        Some(("application/x-www-form-urlencoded", common::form_body(pairs))),
    )
}

fn csrf_of(page: &Resp) -> String {
    page.body.split("name=\"csrf\" value=\"").nth(1).expect("a form token").split('"').next().unwrap().to_string()
}

/// The text between the element with `id` and the end of its section.
fn section<'a>(page: &'a Resp, id: &str) -> &'a str {
    let start = page.body.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}: {}", page.body));
    let rest = &page.body[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

fn one_time_password(page: &Resp) -> String {
    let start =
        page.body.find("id=\"one-time-password\">").expect("the one-time password") + "id=\"one-time-password\">".len();
    page.body[start..].split('<').next().unwrap().to_string()
}

#[test]
fn the_administrator_creates_deactivates_and_resets_accounts_through_the_pages() {
    // Each step signs in to show its effect; the sign-in limits are another test's subject.
    let app = common::spawn_app_with(|s| {
        s.auth.login_per_account_per_minute = 100;
        s.auth.login_per_client_per_minute = 100;
    });
    let admin_token = app.admin_token();
    let dept = app.create_department(&admin_token, "landres");
    let admin = app.staff_account(&admin_token, "admin", None);
    let cookie = app.page_session(&admin);

    let page = get(&app, "/staff/accounts?lang=en", &cookie);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(section(&page, "accounts").contains(&admin));
    assert!(section(&page, &format!("account-{}", user_id(&app, &admin_token, &admin))).contains("Your own account"));
    let csrf = csrf_of(&page);

    // Every mistake at once, what was typed kept.
    let refused = post(
        &app,
        "/staff/accounts?lang=en",
        &cookie,
        &[
            ("csrf", &csrf),
            ("email", "not-an-address"),
            ("display_name", "Wang Fang"),
            ("role", ""),
            ("department_id", ""),
        ],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    let summary = &refused.body[refused.body.find("id=\"error-summary\"").unwrap()..];
    let summary = &summary[..summary.find("</div>").unwrap()];
    assert!(summary.contains("href=\"#f-account-role\"") && summary.contains("href=\"#f-account-email\""), "{summary}");
    assert!(refused.body.contains("value=\"Wang Fang\"") && refused.body.contains("value=\"not-an-address\""));
    let refused = post(
        &app,
        "/staff/accounts?lang=en",
        &cookie,
        &[
            ("csrf", &csrf),
            ("email", "op@example.gov.cn"),
            ("display_name", "Op"),
            ("role", "operator"),
            ("department_id", &dept),
        ],
    );
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Only department staff belong to a department"), "{}", refused.body);

    // Created: the one-time password is shown once; it signs in and must be changed.
    let created = post(
        &app,
        "/staff/accounts?lang=en",
        &cookie,
        &[
            ("csrf", &csrf),
            ("email", "Wang.Fang@example.gov.cn"),
            ("display_name", "Wang Fang"),
            ("role", "department"),
            ("department_id", &dept),
        ],
    );
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let first = one_time_password(&created);
    assert!(first.len() >= 16, "{first}");
    let login = app.login("wang.fang@example.gov.cn", &first);
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.json()["must_change_password"], true, "{}", login.body);
    let users = app.get("/api/v1/users", Some(&admin_token)).json();
    let wang =
        users.as_array().unwrap().iter().find(|u| u["email"] == "wang.fang@example.gov.cn").expect("listed").clone();
    assert_eq!((wang["role"].as_str(), wang["department_id"].as_str()), (Some("department"), Some(dept.as_str())));
    let wang_id = wang["id"].as_str().unwrap().to_string();
    let listed = get(&app, "/staff/accounts?lang=en", &cookie);
    assert!(section(&listed, &format!("account-{wang_id}")).contains("Must change the one-time password"));

    // Deactivated: the password no longer signs in; reactivated: it does again.
    let r = post(&app, &format!("/staff/accounts/{wang_id}/active"), &cookie, &[("csrf", &csrf), ("active", "0")]);
    assert_eq!((r.status, r.header("location")), (303, Some("/staff/accounts?done=deactivated")));
    assert_eq!(app.login("wang.fang@example.gov.cn", &first).status, 401);
    let listed = get(&app, "/staff/accounts?lang=en&done=deactivated", &cookie);
    assert!(listed.body.contains("The account is deactivated"));
    assert!(section(&listed, &format!("account-{wang_id}")).contains("Deactivated"));
    let r = post(&app, &format!("/staff/accounts/{wang_id}/active"), &cookie, &[("csrf", &csrf), ("active", "1")]);
    assert_eq!(r.status, 303);
    assert_eq!(app.login("wang.fang@example.gov.cn", &first).status, 200);

    // Reset: a new one-time password; the old one stops working.
    let reset = post(&app, &format!("/staff/accounts/{wang_id}/reset-password?lang=en"), &cookie, &[("csrf", &csrf)]);
    assert_eq!(reset.status, 200, "{}", reset.body);
    let second = one_time_password(&reset);
    assert_ne!(first, second);
    assert!(reset.body.contains("the old one no longer works"));
    assert_eq!(app.login("wang.fang@example.gov.cn", &first).status, 401);
    assert_eq!(app.login("wang.fang@example.gov.cn", &second).status, 200);
    // An administrator cannot lock themselves out.
    let own = user_id(&app, &admin_token, &admin);
    let r = post(&app, &format!("/staff/accounts/{own}/active?lang=en"), &cookie, &[("csrf", &csrf), ("active", "0")]);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(app.login(&admin, common::TEST_PASSWORD).status, 200);
    // A form without the session's token changes nothing.
    let r = post(&app, &format!("/staff/accounts/{wang_id}/active"), &cookie, &[("csrf", "forged"), ("active", "0")]);
    assert_eq!(r.status, 403);
    assert_eq!(app.login("wang.fang@example.gov.cn", &second).status, 200);
}

fn user_id(app: &TestApp, admin_token: &str, email: &str) -> String {
    let users = app.get("/api/v1/users", Some(admin_token)).json();
    users.as_array().unwrap().iter().find(|u| u["email"] == email).expect("listed")["id"].as_str().unwrap().to_string()
}

/// The API's reset: answered once, never cached; the admin alone may ask.
#[test]
fn the_api_resets_a_password_to_a_one_time_password_for_administrators_only() {
    let app = spawn_app();
    let admin = app.admin_token();
    let email = app.staff_account(&admin, "coordinator", None);
    let id = user_id(&app, &admin, &email);
    let coordinator = app.token_for(&email, common::TEST_PASSWORD);
    let path = format!("/api/v1/users/{id}/reset-password");
    app.post(&path, Some(&coordinator), &json!({})).assert_problem(403, "forbidden");
    app.post(&path, None, &json!({})).assert_problem(401, "unauthenticated");
    app.post("/api/v1/users/nobody/reset-password", Some(&admin), &json!({})).assert_problem(404, "not-found");
    let r = app.post(&path, Some(&admin), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let v = r.json();
    assert_eq!(v["user"]["must_change_password"], true);
    let password = v["one_time_password"].as_str().unwrap();
    // The coordinator's session ended with the old password.
    assert_eq!(app.get("/api/v1/auth/me", Some(&coordinator)).status, 401);
    assert_eq!(app.login(&email, common::TEST_PASSWORD).status, 401);
    assert_eq!(app.login(&email, password).status, 200);
}

#[test]
fn every_other_role_is_refused_the_administrators_pages() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "land");
    for (role, department) in
        [("operator", None), ("department", Some(dept.as_str())), ("coordinator", None), ("commission", None)]
    {
        let cookie = app.page_session(&app.staff_account(&admin, role, department));
        for path in ["/staff/accounts", "/staff/calendar"] {
            assert_eq!(get(&app, path, &cookie).status, 403, "{role} {path}");
        }
        for path in [
            "/staff/accounts",
            "/staff/accounts/x/active",
            "/staff/accounts/x/reset-password",
            "/staff/calendar/check",
            "/staff/calendar/load",
        ] {
            assert_eq!(post(&app, path, &cookie, &[("csrf", "x")]).status, 403, "{role} {path}");
        }
    }
    let r = app.request("GET", "/staff/accounts", None, &[], None);
    assert_eq!((r.status, r.header("location")), (303, Some("/staff/login?next=/staff/accounts")));
}

/// The year's data as the calendar API gives it, made official, with `extra_off` a day off.
fn official_year_with(app: &TestApp, year: i32, extra_off: chrono::NaiveDate) -> String {
    let v: Value = app.get(&format!("/api/v1/calendar/{year}"), None).json();
    let mut data: CalendarYear = serde_json::from_value(v["data"].clone()).expect("a calendar year");
    data.provisional = false;
    data.off_days.push(OffDay { date: extra_off, name_zh: "临时放假".into(), name_en: "Extra day off".into() });
    data.off_days.sort_by_key(|d| d.date);
    data.to_toml_string()
}

#[test]
fn the_administrator_loads_a_calendar_year_after_a_dry_run_that_lists_the_moved_deadlines() {
    let app = spawn_app();
    let admin_token = app.admin_token();
    let cookie = app.page_session(&app.staff_account(&admin_token, "admin", None));
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (number, code) = (filed["tracking_number"].as_str().unwrap(), filed["access_code"].as_str().unwrap());
    let tracked = || {
        app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", code)], None).json()["clock"]
            .clone()
    };
    let before = tracked();
    // The first working day the deadline counts becomes a day off: the deadline moves.
    let first_counted: chrono::NaiveDate = before["explanation"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["counted"] == true)
        .and_then(|d| d["date"].as_str())
        .unwrap()
        .parse()
        .unwrap();
    let year = first_counted.format("%Y").to_string();
    let data = official_year_with(&app, year.parse().unwrap(), first_counted);

    let page = get(&app, "/staff/calendar?lang=en", &cookie);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(section(&page, "years").contains("id=\"year-2026\""), "the shipped years are listed");
    assert!(section(&page, "year-2026").contains("(official)"), "{}", section(&page, "years"));
    let csrf = csrf_of(&page);

    // Mistakes, all at once; a year that does not match its data.
    let refused =
        post(&app, "/staff/calendar/check?lang=en", &cookie, &[("csrf", &csrf), ("year", "twenty"), ("data", "")]);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("href=\"#f-calendar-year\"") && refused.body.contains("href=\"#f-calendar-data\""));
    let other = (year.parse::<i32>().unwrap() + 1).to_string();
    let refused =
        post(&app, "/staff/calendar/check?lang=en", &cookie, &[("csrf", &csrf), ("year", &other), ("data", &data)]);
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("The pasted data is for another year"), "{}", refused.body);

    // The dry run lists the complaint and stores nothing.
    let checked =
        post(&app, "/staff/calendar/check?lang=en", &cookie, &[("csrf", &csrf), ("year", &year), ("data", &data)]);
    assert_eq!(checked.status, 200, "{}", checked.body);
    assert!(
        checked.body.contains("id=\"dry-run\"") && checked.body.contains("would move 1 open deadlines"),
        "{}",
        checked.body
    );
    assert!(section(&checked, "moved-heading").contains(number));
    assert_eq!(tracked()["due_date"], before["due_date"], "a dry run changes nothing");
    assert!(checked.body.contains("action=\"/staff/calendar/load\""));

    // Confirmed: loaded, the deadline moved by one working day, the year now from the database.
    let loaded =
        post(&app, "/staff/calendar/load?lang=en", &cookie, &[("csrf", &csrf), ("year", &year), ("data", &data)]);
    assert_eq!(loaded.status, 200, "{}", loaded.body);
    assert!(loaded.body.contains("id=\"done\"") && loaded.body.contains(number));
    let after = tracked();
    assert!(after["due_date"].as_str().unwrap() > before["due_date"].as_str().unwrap(), "{before} → {after}");
    let page = get(&app, "/staff/calendar?lang=en", &cookie);
    assert!(section(&page, &format!("year-{year}")).contains("Loaded by an administrator"));
}

/// In the browser, in zh and en, at phone and desktop width (each screenshot also runs the
/// accessibility checks): the accounts page, creating an account by clicking, the one-time
/// password page, and the calendar page; nothing scrolls sideways on a phone.
#[test]
fn the_administrators_pages_work_in_a_browser_in_both_languages() {
    let app = spawn_app();
    let admin_token = app.admin_token();
    let dept = app.create_department(&admin_token, "landres");
    let admin = app.staff_account(&admin_token, "admin", None);
    let b = common::browser::Browser::start();
    b.goto(&app.url("/staff/login"));
    b.type_into("#f-email", &admin);
    b.type_into("#f-password", common::TEST_PASSWORD);
    b.click("form[action='/staff/login'] button[type=submit]");
    b.wait_for_path("/staff/assessment");
    let shots = |name: &str| {
        b.screenshots(name);
        b.set_width(common::browser::PHONE_WIDTH);
        assert!(!b.overflows_horizontally(), "{name} scrolls sideways at 390 px");
        b.reset_width();
    };
    for (lang, heading, nav) in [("zh", "工作人员账号", "节假日数据"), ("en", "Staff accounts", "Holiday calendar")]
    {
        b.goto(&app.url(&format!("/staff/accounts?lang={lang}")));
        assert_eq!(b.text("h1"), heading);
        shots(&format!("admin-accounts-{lang}"));
        b.click("nav a[href='/staff/calendar']");
        b.wait_for_path("/staff/calendar");
        assert!(b.body_text().contains(nav));
        shots(&format!("admin-calendar-{lang}"));
    }
    // Creating a department clerk by clicking (the page is in English now).
    b.goto(&app.url("/staff/accounts"));
    b.type_into("#f-account-display_name", "Li Ming");
    b.type_into("#f-account-email", "li.ming@example.gov.cn");
    b.click("#role-department");
    b.choose("#f-account-department_id", &dept);
    b.click("#new-account button[type=submit]");
    b.find("#one-time-password");
    assert!(b.text("#done").contains("Li Ming"));
    let password = b.text("#one-time-password");
    shots("admin-one-time-en");
    let login = app.login("li.ming@example.gov.cn", &password);
    assert_eq!(login.status, 200, "{}", login.body);
    b.click("a[href='/staff/accounts']");
    b.wait_for_path("/staff/accounts");
    assert!(b.text("#accounts").contains("li.ming@example.gov.cn"));
}
