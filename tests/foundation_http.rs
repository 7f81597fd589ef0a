//! Foundation over HTTP: health, problem+json for every error class, sign-in, roles both ways,
//! departments, OpenAPI.

mod common;

use common::{spawn_app, spawn_app_with, TEST_PASSWORD};
use serde_json::json;

#[test]
fn health_and_readiness() {
    let app = spawn_app();
    let r = app.get("/healthz", None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "alive");
    let r = app.get("/readyz", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "ready");
    let expected = if common::uses_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(v["database"], expected);
    assert!(r.header("x-request-id").is_some_and(|id| id.len() >= 16));
}

#[test]
fn every_error_class_is_problem_json() {
    let app = spawn_app_with(|s| s.server.json_limit_bytes = 4096);
    let admin = app.admin_token();

    // 400: malformed JSON, and invalid UTF-8 inside a string.
    let r = app.request(
        "POST",
        "/api/v1/departments",
        Some(&admin),
        &[],
        Some(("application/json", b"{\"code\":".to_vec())),
    );
    r.assert_problem(400, "bad-request");
    let r = app.request(
        "POST",
        "/api/v1/auth/login",
        None,
        &[],
        Some(("application/json", b"{\"email\":\"\xff\"}".to_vec())),
    );
    r.assert_problem(400, "bad-request");
    // 401: no token, forged token.
    app.get("/api/v1/users", None).assert_problem(401, "unauthenticated");
    app.get("/api/v1/users", Some("eyJhbGciOiJIUzI1NiJ9.e30.forged")).assert_problem(401, "unauthenticated");
    // 403: a valid token of the wrong role.
    let operator = app.staff_token(&admin, "operator", None);
    app.get("/api/v1/users", Some(&operator)).assert_problem(403, "forbidden");
    // 404: unknown route and unknown record.
    app.get("/api/v1/nothing-here", None).assert_problem(404, "not-found");
    app.patch("/api/v1/departments/nope", Some(&admin), &json!({"active": false})).assert_problem(404, "not-found");
    // 409: duplicate department code.
    app.create_department(&admin, "dup");
    let r = app.post(
        "/api/v1/departments",
        Some(&admin),
        &json!({"code": "dup", "name_zh": "重复", "name_en": "Dup", "kind": "department", "contact_email": "a@b.cn", "head_email": "c@d.cn"}),
    );
    r.assert_problem(409, "conflict");
    // 413: body over the limit.
    let big = json!({"email": "x".repeat(10_000), "password": "p"});
    app.post("/api/v1/auth/login", None, &big).assert_problem(413, "payload-too-large");
    // 415: not JSON.
    app.request("POST", "/api/v1/auth/login", None, &[], Some(("text/plain", b"hi".to_vec())))
        .assert_problem(415, "unsupported-media-type");
    // 422: wrong type, unknown field and invalid value each name the field.
    let v = app
        .post("/api/v1/auth/login", None, &json!({"email": 5, "password": "x"}))
        .assert_problem(422, "invalid-field");
    assert_eq!(v["errors"][0]["field"], "email");
    let v = app
        .post("/api/v1/auth/login", None, &json!({"email": "a@b.cn", "password": "x", "admin": true}))
        .assert_problem(422, "invalid-field");
    assert_eq!(v["errors"][0]["field"], "admin");
    let v = app
        .post(
            "/api/v1/departments",
            Some(&admin),
            &json!({"code": "Bad Code", "name_zh": "", "name_en": "x", "kind": "department", "contact_email": "nope", "head_email": "h@x.cn"}),
        )
        .assert_problem(422, "invalid-field");
    let fields: Vec<&str> = v["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["code", "name_zh", "contact_email"]);
    // 405-ish: a known path with another method still answers problem+json.
    let r = app.request("DELETE", "/api/v1/users", Some(&admin), &[], None);
    assert!(r.content_type.starts_with("application/problem+json"), "{}", r.body);
}

/// What PostgreSQL cannot hold never reaches it (these were 500s there, found by the contract
/// fuzzing): an encoded NUL in the path names no resource, a JSON string holding one is refused by
/// field, the list filters that went to the database unchecked refuse it too, and so do dates and
/// instants before 4713 BC (filter dates, ballot windows).
#[test]
fn inputs_postgresql_cannot_hold_stop_at_the_door() {
    let app = spawn_app();
    let admin = app.admin_token();
    let coordinator = app.staff_token(&admin, "coordinator", None);
    for path in ["/api/v1/ballots/x%00y", "/api/v1/complaints/a%00b", "/api/v1/users/%00"] {
        app.get(path, Some(&coordinator)).assert_problem(404, "not-found");
    }
    let v = app
        .post("/api/v1/auth/login", None, &json!({"email": "a\u{0}@b.cn", "password": "x"}))
        .assert_problem(422, "invalid-field");
    assert_eq!(
        (v["errors"][0]["field"].as_str(), v["errors"][0]["code"].as_str()),
        (Some("email"), Some("nul_character"))
    );
    let v = app.get("/api/v1/complaints?department_id=a%00b", Some(&coordinator)).assert_problem(422, "invalid-field");
    assert_eq!(v["errors"][0]["field"], "department_id");
    let cursor: String = b"1|a\0b".iter().map(|b| format!("{b:02x}")).collect();
    let v = app
        .get(&format!("/api/v1/complaints?cursor={cursor}"), Some(&coordinator))
        .assert_problem(422, "invalid-field");
    assert_eq!(v["errors"][0]["field"], "cursor");
    for field in ["received_from", "received_to"] {
        let v = app
            .get(&format!("/api/v1/complaints?{field}=-5000-01-01"), Some(&coordinator))
            .assert_problem(422, "invalid-field");
        assert_eq!(v["errors"][0]["field"], field);
    }
    let department = app.create_department(&admin, "far");
    let round = json!({"title": "far", "year": 2026, "department_ids": [department],
        "opens_at": "-5000-01-01T00:00:00Z", "closes_at": "2026-12-31T00:00:00Z"});
    let v = app.post("/api/v1/ballots/rounds", Some(&coordinator), &round).assert_problem(422, "invalid-field");
    assert_eq!(v["errors"][0]["field"], "opens_at");
}

#[test]
fn login_tokens_and_password_change() {
    let app = spawn_app();
    // Wrong password and unknown account look the same.
    let a = app
        .login(anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL, "wrong-password-1234")
        .assert_problem(401, "unauthenticated");
    let b = app.login("nobody@example.gov.cn", "wrong-password-1234").assert_problem(401, "unauthenticated");
    assert_eq!(a["detail"], b["detail"]);

    let admin = app.admin_token();
    let fresh = app.login(anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL, &app.admin_password);
    assert_eq!(fresh.header("cache-control"), Some("no-store"), "tokens are never cached");
    let me = app.get("/api/v1/auth/me", Some(&admin));
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["role"], "admin");
    assert!(me.json().get("password_hash").is_none());

    // A generated one-time password allows nothing but the password change.
    let r = app.post(
        "/api/v1/users",
        Some(&admin),
        &json!({"email": "new@example.gov.cn", "display_name": "New", "role": "coordinator"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let otp = r.json()["one_time_password"].as_str().unwrap().to_string();
    let login = app.login("new@example.gov.cn", &otp);
    assert_eq!(login.json()["must_change_password"], true);
    let token = login.json()["token"].as_str().unwrap().to_string();
    app.get("/api/v1/auth/me", Some(&token)).assert_problem(403, "forbidden");
    let weak =
        app.post("/api/v1/auth/password", Some(&token), &json!({"current_password": otp, "new_password": "short"}));
    assert_eq!(weak.assert_problem(422, "invalid-field")["errors"][0]["field"], "new_password");
    let ok = app.post(
        "/api/v1/auth/password",
        Some(&token),
        &json!({"current_password": otp, "new_password": TEST_PASSWORD}),
    );
    assert_eq!(ok.status, 204, "{}", ok.body);
    let token = app.token_for("new@example.gov.cn", TEST_PASSWORD);
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).status, 200);

    // Asking for the state an account already has changes nothing and ends no token (the
    // administrator's own included); an administrator cannot deactivate their own account.
    let id = app.get("/api/v1/auth/me", Some(&token)).json()["id"].as_str().unwrap().to_string();
    let admin_id = app.get("/api/v1/auth/me", Some(&admin)).json()["id"].as_str().unwrap().to_string();
    for who in [&id, &admin_id] {
        let r = app.patch(&format!("/api/v1/users/{who}"), Some(&admin), &json!({"active": true}));
        assert_eq!((r.status, r.json()["active"].clone()), (200, json!(true)), "{}", r.body);
    }
    assert_eq!(app.get("/api/v1/auth/me", Some(&token)).status, 200);
    assert_eq!(app.get("/api/v1/auth/me", Some(&admin)).status, 200);
    app.patch(&format!("/api/v1/users/{admin_id}"), Some(&admin), &json!({"active": false}))
        .assert_problem(409, "conflict");

    // Deactivated accounts cannot sign in, and their tokens stop working at once.
    assert_eq!(app.patch(&format!("/api/v1/users/{id}"), Some(&admin), &json!({"active": false})).status, 200);
    app.login("new@example.gov.cn", TEST_PASSWORD).assert_problem(401, "unauthenticated");
    let v = app.get("/api/v1/auth/me", Some(&token)).assert_problem(401, "unauthenticated");
    assert!(v["detail"].as_str().unwrap().contains("no longer valid"));
}

#[test]
fn tokens_signed_otherwise_are_refused() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let app = spawn_app();
    let secret = std::fs::read_to_string(app.data_dir.path().join("jwt.key")).unwrap();
    let now = chrono::Utc::now().timestamp();
    let admin_id = app.get("/api/v1/auth/me", Some(&app.admin_token())).json()["id"].as_str().unwrap().to_string();
    let claims =
        |iss: &str, exp: i64| json!({"sub": admin_id, "role": "admin", "iss": iss, "iat": now, "nbf": now, "exp": exp});
    let sign = |c: serde_json::Value, alg| {
        encode(&Header::new(alg), &c, &EncodingKey::from_secret(secret.trim().as_bytes())).unwrap()
    };
    // The right key, but the wrong issuer / expired / another algorithm.
    let wrong_issuer = sign(claims("anshang/ballot", now + 600), jsonwebtoken::Algorithm::HS256);
    app.get("/api/v1/users", Some(&wrong_issuer)).assert_problem(401, "unauthenticated");
    let expired = sign(claims("anshang/login", now - 3600), jsonwebtoken::Algorithm::HS256);
    let v = app.get("/api/v1/users", Some(&expired)).assert_problem(401, "unauthenticated");
    assert!(v["detail"].as_str().unwrap().contains("expired"));
    let other_alg = sign(claims("anshang/login", now + 600), jsonwebtoken::Algorithm::HS512);
    app.get("/api/v1/users", Some(&other_alg)).assert_problem(401, "unauthenticated");
    // And the right everything is accepted (so the refusals above are for the stated reasons).
    let good = sign(claims("anshang/login", now + 600), jsonwebtoken::Algorithm::HS256);
    assert_eq!(app.get("/api/v1/users", Some(&good)).status, 200);
}

#[test]
fn login_is_rate_limited_per_account() {
    let app = spawn_app_with(|s| {
        s.auth.login_per_account_per_minute = 3;
        s.auth.login_per_client_per_minute = 100;
    });
    for _ in 0..3 {
        app.login("victim@example.gov.cn", "guess-password-000").assert_problem(401, "unauthenticated");
    }
    let r = app.login("victim@example.gov.cn", "guess-password-000");
    r.assert_problem(429, "rate-limited");
    assert!(r.header("retry-after").is_some());
    // Another account from the same client is not affected.
    app.login("other@example.gov.cn", "guess-password-000").assert_problem(401, "unauthenticated");
}

#[test]
fn password_change_is_rate_limited_per_account() {
    let app = spawn_app_with(|s| {
        s.auth.login_per_account_per_minute = 3;
        s.auth.login_per_client_per_minute = 100;
    });
    let admin = app.admin_token();
    let victim = app.staff_token(&admin, "coordinator", None);
    let other = app.staff_token(&admin, "coordinator", None);
    let guess = |token: &str, current: &str| {
        app.post(
            "/api/v1/auth/password",
            Some(token),
            &json!({"current_password": current, "new_password": "a brand new passphrase 2026"}),
        )
    };
    // A stolen token guesses the current password: three wrong guesses, then 429, even for
    // the right one.
    for _ in 0..3 {
        guess(&victim, "guess-password-000").assert_problem(422, "invalid-field");
    }
    let r = guess(&victim, "guess-password-001");
    r.assert_problem(429, "rate-limited");
    assert!(r.header("retry-after").is_some());
    guess(&victim, TEST_PASSWORD).assert_problem(429, "rate-limited");
    // Another account is not affected.
    guess(&other, "guess-password-000").assert_problem(422, "invalid-field");
    assert_eq!(guess(&other, TEST_PASSWORD).status, 204);
}

#[test]
fn login_is_rate_limited_per_client() {
    let app = spawn_app_with(|s| {
        s.auth.login_per_account_per_minute = 100;
        s.auth.login_per_client_per_minute = 4;
    });
    // The harness signed in once already; at most 4 attempts fit in the minute, each for a
    // different account, so only the per-client limit can be what refuses.
    let mut refused_at = None;
    for i in 0..5 {
        let r = app.login(&format!("u{i}@example.gov.cn"), "guess-password-000");
        if r.status == 429 {
            r.assert_problem(429, "rate-limited");
            refused_at = Some(i);
            break;
        }
        r.assert_problem(401, "unauthenticated");
    }
    assert_eq!(refused_at, Some(3), "the 5th attempt from one client in a minute is refused");
}

/// Every foundation endpoint × every role: allowed ones do not answer 401/403, refused ones 403.
#[test]
fn authorisation_matrix() {
    let app = spawn_app();
    let admin = app.admin_token();
    let dept = app.create_department(&admin, "matrix");
    let roles = ["operator", "department", "coordinator", "commission", "admin"];
    let tokens: Vec<(&str, String)> = roles
        .iter()
        .map(|r| {
            (
                *r,
                if *r == "admin" {
                    admin.clone()
                } else {
                    app.staff_token(&admin, r, (*r == "department").then_some(dept.as_str()))
                },
            )
        })
        .collect();
    // (method, path, body, roles allowed; "public" = no token needed)
    let endpoints: Vec<(&str, String, serde_json::Value, Vec<&str>)> = vec![
        ("GET", "/api/v1/auth/me".into(), json!(null), roles.to_vec()),
        ("GET", "/api/v1/users".into(), json!(null), vec!["admin"]),
        (
            "POST",
            "/api/v1/users".into(),
            json!({"email": "m@x.cn", "display_name": "m", "role": "operator"}),
            vec!["admin"],
        ),
        ("PATCH", "/api/v1/users/none".into(), json!({"active": true}), vec!["admin"]),
        ("GET", "/api/v1/admin/departments".into(), json!(null), vec!["admin"]),
        (
            "POST",
            "/api/v1/departments".into(),
            json!({"code": "m1", "name_zh": "m", "name_en": "m", "kind": "office", "contact_email": "a@b.cn", "head_email": "a@b.cn"}),
            vec!["admin"],
        ),
        ("PATCH", format!("/api/v1/departments/{dept}"), json!({"name_en": "Matrix"}), vec!["admin"]),
    ];
    for (method, path, body, allowed) in &endpoints {
        let send = |token: Option<&str>| {
            let b = (!body.is_null()).then(|| ("application/json", body.to_string().into_bytes()));
            app.request(method, path, token, &[], b)
        };
        send(None).assert_problem(401, "unauthenticated");
        for (role, token) in &tokens {
            let r = send(Some(token));
            if allowed.contains(role) {
                assert!(r.status != 401 && r.status != 403, "{role} refused on {method} {path}: {}", r.body);
            } else {
                r.assert_problem(403, "forbidden");
            }
        }
    }
    // Public endpoints answer without a token.
    for path in ["/healthz", "/readyz", "/api/v1/departments", "/api/v1/openapi.json", "/api/v1/docs"] {
        assert_eq!(app.get(path, None).status, 200, "{path}");
    }
}

#[test]
fn departments_lifecycle() {
    let app = spawn_app();
    let admin = app.admin_token();
    let id = app.create_department(&admin, "finance");
    let r = app.patch(
        &format!("/api/v1/departments/{id}"),
        Some(&admin),
        &json!({"name_zh": "市财政局", "head_email": "Head@Finance.gov.cn"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name_zh"], "市财政局");
    assert_eq!(r.json()["head_email"], "head@finance.gov.cn");
    let public = app.get("/api/v1/departments", None).json();
    assert_eq!(public.as_array().unwrap().len(), 1);
    assert!(public[0].get("head_email").is_none(), "emails are not public");
    app.patch(&format!("/api/v1/departments/{id}"), Some(&admin), &json!({"active": false}));
    assert_eq!(app.get("/api/v1/departments", None).json().as_array().unwrap().len(), 0);
    assert_eq!(app.get("/api/v1/admin/departments", Some(&admin)).json().as_array().unwrap().len(), 1);
}

#[test]
fn demo_mode_loads_the_city_and_one_account_per_role() {
    let app = spawn_app_with(|s| s.server.demo = true);
    let depts = app.get("/api/v1/departments", None).json();
    let names: Vec<&str> = depts.as_array().unwrap().iter().map(|d| d["name_zh"].as_str().unwrap()).collect();
    for expected in
        ["市商务局", "市发改委", "郴州高新区", "安仁县", "市纪委", "市政府督查室", "市招商引资工作协调推进小组办公室"]
    {
        assert!(names.contains(&expected), "{expected} missing");
    }
    assert_eq!(names.len(), 32);
    for role in ["operator", "department", "coordinator", "commission", "admin"] {
        let r = app.login(&format!("{role}@demo.anshang.example"), "anshang-demo-2026");
        assert_eq!(r.status, 200, "{role}: {}", r.body);
        assert_eq!(r.json()["role"], role);
    }
}

#[test]
fn openapi_document_lists_the_endpoints() {
    let app = spawn_app();
    let doc = app.get("/api/v1/openapi.json", None).json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in ["/api/v1/auth/login", "/api/v1/users", "/api/v1/departments", "/readyz"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let page = app.get("/api/v1/docs", None);
    assert!(page.body.contains("/assets/api-docs.js"));
    assert!(page.header("content-security-policy").unwrap().contains("script-src 'self'"));
}

/// Writes that read first (the duplicate check) queue behind each other instead of failing
/// with "database is locked" under concurrency.
#[test]
fn concurrent_admin_writes_all_succeed() {
    let app = spawn_app_with(|s| s.database.pool_size = 8);
    let admin = app.admin_token();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..24)
            .map(|i| {
                let (app, admin) = (&app, &admin);
                s.spawn(move || {
                    app.post(
                        "/api/v1/departments",
                        Some(admin),
                        &json!({"code": format!("c{i}"), "name_zh": "部门", "name_en": "Dept", "kind": "department", "contact_email": "a@b.cn", "head_email": "a@b.cn"}),
                    )
                    .status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
}
