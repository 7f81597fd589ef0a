//! Staff sign-in on the pages: the one-time password must be changed first, the session lives
//! only in an HttpOnly SameSite=Strict cookie the API ignores, forms need the session's token.

mod common;

use common::browser::Browser;
use common::{spawn_app, TestApp};
use serde_json::json;

fn form(app: &TestApp, path: &str, cookie: Option<&str>, body: &str) -> common::Resp {
    let mut headers = vec![];
    let cookie_header;
    if let Some(c) = cookie {
        cookie_header = format!("anshang_staff={c}");
        headers.push(("Cookie", cookie_header.as_str()));
    }
    app.request("POST", path, None, &headers, Some(("application/x-www-form-urlencoded", body.as_bytes().to_vec())))
}

fn session_cookie(r: &common::Resp) -> String {
    let set = r
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("anshang_staff="))
        .map(|(_, v)| v.clone());
    let set = set.unwrap_or_else(|| panic!("no session cookie: {:?}", r.headers));
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/staff"] {
        assert!(set.contains(flag), "{flag} missing from {set}");
    }
    set.trim_start_matches("anshang_staff=").split(';').next().unwrap().to_string()
}

#[test]
fn a_one_time_password_is_changed_in_the_browser_before_anything_else() {
    let app = spawn_app();
    let admin = app.admin_token();
    let r = app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"email": "clerk@example.gov.cn", "display_name": "Clerk", "role": "coordinator"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let one_time = r.json()["one_time_password"].as_str().unwrap().to_string();

    let b = Browser::start();
    b.goto(&app.url("/staff/login?lang=en"));
    b.screenshots("login-en");
    b.type_into("#f-email", "clerk@example.gov.cn");
    b.type_into("#f-password", "wrong password");
    b.click("form[action='/staff/login'] button[type=submit]");
    b.wait_for_text("#error-summary strong", "Wrong email or password.");
    b.type_into("#f-password", &one_time);
    b.click("form[action='/staff/login'] button[type=submit]");
    b.wait_for_path("/staff/password");
    b.screenshots("password-en");
    // The same page in Chinese (so checked by axe-core in it too), then back in English.
    b.goto(&app.url("/staff/password?lang=zh"));
    b.wait_for_text("h1", "更改密码");
    b.screenshots("password-zh");
    b.goto(&app.url("/staff/password?lang=en"));
    b.wait_for_text("h1", "Change your password");
    // The token is nowhere a script could read it.
    assert_eq!(b.script("return document.cookie.includes('anshang_staff');"), json!(false));
    b.type_into("#f-current_password", &one_time);
    b.type_into("#f-new_password", "a much better passphrase 2026");
    b.type_into("#f-repeat_password", "a different passphrase 2026");
    b.click("form[action='/staff/password'] button[type=submit]");
    b.wait_for_text("#e-repeat_password", "The two new passwords differ.");
    b.type_into("#f-current_password", &one_time);
    b.type_into("#f-new_password", "a much better passphrase 2026");
    b.type_into("#f-repeat_password", "a much better passphrase 2026");
    b.click("form[action='/staff/password'] button[type=submit]");
    b.wait_for_path("/staff/login");
    assert!(b.body_text().contains("Your password is changed"));
    b.click("a.lang");
    b.wait_for_text("h1", "工作人员登录");
    b.screenshots("login-zh");
    b.type_into("#f-email", "clerk@example.gov.cn");
    b.type_into("#f-password", "a much better passphrase 2026");
    b.click("form[action='/staff/login'] button[type=submit]");
    b.wait_for_path("/staff/inbox");
}

#[test]
fn the_session_cookie_is_for_pages_only_and_forms_need_its_token() {
    let app = spawn_app();
    let admin = app.admin_token();
    let email = app.staff_account(&admin, "coordinator", None);

    // Not signed in: to the sign-in page, remembering where to.
    let r = app.get("/staff", None);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/staff/login?next=/staff"));

    let r = form(&app, "/staff/login", None, &format!("email={email}&password=nope"));
    assert_eq!(r.status, 401);
    assert!(r.body.contains("邮箱或密码不正确") || r.body.contains("Wrong email or password"), "{}", r.body);
    let r = form(
        &app,
        "/staff/login",
        None,
        &format!("email={email}&password={}&next=//evil.example/x", common::TEST_PASSWORD),
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/staff/inbox"), "no open redirect");
    let cookie = session_cookie(&r);

    // Another role's page: 403, shown with the signed-in person's own navigation.
    let r = app.request("GET", "/staff/intake", None, &[("Cookie", &format!("anshang_staff={cookie}"))], None);
    assert_eq!(r.status, 403);
    assert!(r.body.contains("action=\"/staff/logout\"") && r.body.contains("href=\"/staff/inbox\""), "{}", r.body);
    // The language link keeps the page's query.
    let r = app.request(
        "GET",
        "/staff/inbox?status=received&q=permit&lang=en",
        None,
        &[("Cookie", &format!("anshang_staff={cookie}"))],
        None,
    );
    assert_eq!(r.status, 200);
    assert!(r.body.contains("inbox?status=received&amp;q=permit&amp;lang=zh\""), "{}", r.body);

    // The API does not take the cookie (no CSRF through the API).
    let r = app.request("GET", "/api/v1/auth/me", None, &[("Cookie", &format!("anshang_staff={cookie}"))], None);
    assert_eq!(r.status, 401);

    // Forms need the session's token.
    let r = form(&app, "/staff/logout", Some(&cookie), "csrf=0000");
    assert_eq!(r.status, 403);
    let page = app.request("GET", "/staff/password", None, &[("Cookie", &format!("anshang_staff={cookie}"))], None);
    assert_eq!(page.status, 200);
    let token = page.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = form(&app, "/staff/logout", Some(&cookie), &format!("csrf={token}"));
    assert_eq!(r.status, 303);
    assert!(
        r.headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("anshang_staff=;")),
        "{:?}",
        r.headers
    );

    // A forged or foreign token is the sign-in page again.
    let r = app.request("GET", "/staff", None, &[("Cookie", "anshang_staff=forged")], None);
    assert_eq!(r.status, 303);
}

#[test]
fn signing_out_ends_the_token_for_pages_and_the_api() {
    let app = spawn_app();
    let admin = app.admin_token();
    let email = app.staff_account(&admin, "coordinator", None);
    let cookie_header = |c: &str| format!("anshang_staff={c}");

    // The pages' sign-out: a copy of the cookie's token is refused on pages and as a bearer.
    let r = form(&app, "/staff/login", None, &format!("email={email}&password={}", common::TEST_PASSWORD));
    assert_eq!(r.status, 303);
    let cookie = session_cookie(&r);
    assert_eq!(app.get("/api/v1/auth/me", Some(&cookie)).status, 200, "the cookie's token works as a bearer");
    let page = app.request("GET", "/staff/password", None, &[("Cookie", &cookie_header(&cookie))], None);
    let csrf = page.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let r = form(&app, "/staff/logout", Some(&cookie), &format!("csrf={csrf}"));
    assert_eq!(r.status, 303);
    let r = app.request("GET", "/staff/inbox", None, &[("Cookie", &cookie_header(&cookie))], None);
    assert_eq!(r.status, 303, "a signed-out cookie is the sign-in page again");
    app.get("/api/v1/auth/me", Some(&cookie)).assert_problem(401, "unauthenticated");

    // The API's sign-out: the bearer is refused from then on, on the API and on the pages.
    let token = app.token_for(&email, common::TEST_PASSWORD);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).status, 200);
    assert_eq!(app.request("GET", "/staff/inbox", None, &[("Cookie", &cookie_header(&token))], None).status, 200);
    let r = app.request("POST", "/api/v1/auth/logout", Some(&token), &[], None);
    assert_eq!(r.status, 204, "{}", r.body);
    app.get("/api/v1/auth/me", Some(&token)).assert_problem(401, "unauthenticated");
    app.request("POST", "/api/v1/auth/logout", Some(&token), &[], None).assert_problem(401, "unauthenticated");
    assert_eq!(app.request("GET", "/staff/inbox", None, &[("Cookie", &cookie_header(&token))], None).status, 303);
    app.request("POST", "/api/v1/auth/logout", None, &[], None).assert_problem(401, "unauthenticated");

    // Signing in again works.
    let again = app.token_for(&email, common::TEST_PASSWORD);
    assert_eq!(app.get("/api/v1/auth/me", Some(&again)).status, 200);
}
