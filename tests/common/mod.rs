//! Test harness: `spawn_app()` starts the real server on a random port with a fresh database —
//! a temp SQLite file, or a fresh PostgreSQL database when `ANSHANG_TEST_DATABASE_URL` is set —
//! and tests speak HTTP to it like any client.
#![allow(dead_code)]

pub mod browser;
pub mod smtp;
pub mod walk;
pub mod world;

use std::path::PathBuf;
use std::sync::mpsc;

use anshang::app::Application;
use anshang::config::{Settings, SettingsSource};
use diesel::prelude::*;
use serde_json::{json, Value};

pub const TEST_PASSWORD: &str = "test-password-123456";

pub struct TestApp {
    pub base: String,
    pub port: u16,
    pub settings: Settings,
    pub admin_password: String,
    pub data_dir: tempfile::TempDir,
    pub database: TestDatabase,
    agent: ureq::Agent,
}

/// The database of one test; a PostgreSQL database is dropped when the test ends.
pub struct TestDatabase {
    pub url: String,
    pg_admin: Option<(String, String)>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg_admin {
            if let Ok(mut conn) = diesel::PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
    }
}

pub fn uses_postgres() -> bool {
    std::env::var("ANSHANG_TEST_DATABASE_URL").map(|u| !u.is_empty()).unwrap_or(false)
}

/// A fresh database: `sqlite://<dir>/anshang.db`, or a new PostgreSQL database.
pub fn fresh_database(dir: &std::path::Path) -> TestDatabase {
    match std::env::var("ANSHANG_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("anshang_t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = diesel::PgConnection::establish(&admin_url).expect("connect to ANSHANG_TEST_DATABASE_URL");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create test database");
            let base = admin_url.rsplit_once('/').map(|(b, _)| b).expect("URL names a database");
            TestDatabase { url: format!("{base}/{name}"), pg_admin: Some((admin_url, name)) }
        }
        _ => TestDatabase { url: format!("sqlite://{}", dir.join("anshang.db").display()), pg_admin: None },
    }
}

/// Default settings as the documented defaults give them, with no process environment.
pub fn base_settings(data_dir: PathBuf, database_url: &str) -> Settings {
    let mut settings =
        Settings::load(&SettingsSource { env: Some(vec![]), ..Default::default() }).expect("defaults load");
    settings.server.data_dir = data_dir;
    settings.server.port = 0;
    settings.database.url = database_url.to_string();
    settings.database.pool_size = 4;
    settings.log.level = "warn".into();
    settings
}

pub fn spawn_app() -> TestApp {
    spawn_app_with(|_| {})
}

pub fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = fresh_database(data_dir.path());
    let url = database.url.clone();
    spawn_app_on(data_dir, database, &url, adjust)
}

/// An instance on `database` reached at `url` (the same database through another route, e.g. a
/// relay the test can cut).
pub fn spawn_app_on(
    data_dir: tempfile::TempDir,
    database: TestDatabase,
    url: &str,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = base_settings(data_dir.path().to_path_buf(), url);
    adjust(&mut settings);
    let (tx, rx) = mpsc::channel();
    let for_server = settings.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(for_server) {
                Ok(app) => {
                    tx.send(Ok((app.port(), app.bootstrap_password.clone()))).unwrap();
                    let _ = app.run().await;
                }
                Err(e) => tx.send(Err(e.to_string())).unwrap(),
            }
        })
    });
    let (port, password) = rx.recv().expect("server thread").expect("application builds");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut app = TestApp {
        base: format!("http://127.0.0.1:{port}"),
        port,
        settings,
        admin_password: password.expect("first start creates the bootstrap admin"),
        data_dir,
        database,
        agent,
    };
    app.admin_password = app.activate_bootstrap_admin();
    app
}

pub struct Resp {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts an RFC 9457 problem document with this status and `type`.
    pub fn assert_problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert!(
            self.content_type.starts_with("application/problem+json"),
            "content-type {} body {}",
            self.content_type,
            self.body
        );
        let v = self.json();
        assert_eq!(v["type"], json!(format!("/problems/{kind}")), "{v}");
        assert_eq!(v["status"], json!(status));
        assert!(v["title"].is_string() && v["detail"].is_string(), "{v}");
        v
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends any request; `body` is (content type, bytes).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Resp {
        let mut builder = ureq::http::Request::builder().method(method).uri(self.url(path));
        if let Some(t) = token {
            builder = builder.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let result = match body {
            Some((content_type, bytes)) => {
                self.agent.run(builder.header("Content-Type", content_type).body(bytes).unwrap())
            }
            None => self.agent.run(builder.body(()).unwrap()),
        };
        let mut response = result.expect("HTTP exchange");
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = response.body_mut().with_config().limit(50 * 1024 * 1024).read_to_string().unwrap_or_default();
        Resp { status, content_type, headers, body }
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.request("GET", path, token, &[], None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.request("POST", path, token, &[], Some(("application/json", body.to_string().into_bytes())))
    }

    pub fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        self.request("PATCH", path, token, &[], Some(("application/json", body.to_string().into_bytes())))
    }

    pub fn put(&self, path: &str, token: Option<&str>, content_type: &str, body: Vec<u8>) -> Resp {
        self.request("PUT", path, token, &[], Some((content_type, body)))
    }

    /// Signs in on the staff pages with `TEST_PASSWORD` and returns the session cookie's value.
    pub fn page_session(&self, email: &str) -> String {
        let body = form_body(&[("email", email), ("password", TEST_PASSWORD)]);
        let r = self.request("POST", "/staff/login", None, &[], Some(("application/x-www-form-urlencoded", body)));
        assert_eq!(r.status, 303, "{}", r.body);
        let set = r
            .headers
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("anshang_staff="))
            .map(|(_, v)| v.clone())
            .expect("session cookie");
        set.trim_start_matches("anshang_staff=").split(';').next().unwrap().to_string()
    }

    pub fn login(&self, email: &str, password: &str) -> Resp {
        self.post("/api/v1/auth/login", None, &json!({"email": email, "password": password}))
    }

    pub fn token_for(&self, email: &str, password: &str) -> String {
        let r = self.login(email, password);
        assert_eq!(r.status, 200, "login {email}: {}", r.body);
        r.json()["token"].as_str().unwrap().to_string()
    }

    /// Changes the bootstrap admin's one-time password; returns the new password.
    fn activate_bootstrap_admin(&self) -> String {
        let token = self.token_for(anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL, &self.admin_password);
        let r = self.post(
            "/api/v1/auth/password",
            Some(&token),
            &json!({"current_password": self.admin_password, "new_password": TEST_PASSWORD}),
        );
        assert_eq!(r.status, 204, "{}", r.body);
        TEST_PASSWORD.to_string()
    }

    pub fn admin_token(&self) -> String {
        self.token_for(anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL, &self.admin_password)
    }

    /// Creates a department and returns its id.
    pub fn create_department(&self, admin: &str, code: &str) -> String {
        let r = self.post(
            "/api/v1/departments",
            Some(admin),
            &json!({"code": code, "name_zh": format!("部门{code}"), "name_en": format!("Department {code}"), "kind": "department",
                    "contact_email": format!("{code}@example.gov.cn"), "head_email": format!("{code}-head@example.gov.cn")}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// Creates an account with a known password (`TEST_PASSWORD`) and returns its email.
    pub fn staff_account(&self, admin: &str, role: &str, department_id: Option<&str>) -> String {
        let email = format!("{role}-{}@example.gov.cn", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let r = self.post(
            "/api/v1/users",
            Some(admin),
            &json!({"email": email, "display_name": role, "role": role, "department_id": department_id, "password": TEST_PASSWORD}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        email
    }

    /// Creates a ballot round over these departments, voting open from a minute ago for an hour;
    /// returns its id.
    pub fn create_ballot_round(&self, commission: &str, department_ids: &[String], min_group_size: u32) -> String {
        self.create_ballot_round_keyed(commission, department_ids, min_group_size).0
    }

    /// As [`Self::create_ballot_round`], also returning the round's revocation key (shown once).
    pub fn create_ballot_round_keyed(
        &self,
        commission: &str,
        department_ids: &[String],
        min_group_size: u32,
    ) -> (String, String) {
        let now = chrono::Utc::now();
        let r = self.post(
            "/api/v1/ballots/rounds",
            Some(commission),
            &json!({
                "title": "2026 年度招商引资行风评议 / 2026 conduct evaluation",
                "year": 2026,
                "department_ids": department_ids,
                "opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "closes_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                "min_group_size": min_group_size,
            }),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.header("cache-control"), Some("no-store"), "the revocation key is shown once, never cached");
        let body = r.json();
        (
            body["id"].as_str().unwrap().to_string(),
            body["revocation_key"].as_str().expect("a new round's revocation key").to_string(),
        )
    }

    /// Creates an account with a known password and returns a token for it.
    pub fn staff_token(&self, admin: &str, role: &str, department_id: Option<&str>) -> String {
        let email = self.staff_account(admin, role, department_id);
        self.token_for(&email, TEST_PASSWORD)
    }
}

/// A valid filing body in the given language.
pub fn complaint_json(lang: &str) -> Value {
    json!({
        "complainant": {
            "type": "foreign_invested_enterprise",
            "name": "Anna Müller",
            "company": "Hunan Precision Parts Co., Ltd. (German-invested)",
            "nationality": "Germany",
            "email": "anna.mueller@example.de",
            "phone": "+49 30 1234567",
            "language": lang
        },
        "project": "Chenzhou plant expansion, phase 2",
        "matter_type": "administrative_act",
        "subject": "Construction permit not decided within the promised time",
        "facts": "We applied on 2026-08-01; all materials were accepted; no decision since.",
        "request": "A decision on the permit, or a written reason for the delay.",
        "review_or_lawsuit": false,
        "confidential": true
    })
}

/// The `anshang` binary with none of the test process's `ANSHANG*` variables, so each test
/// says exactly what configuration it runs with.
pub fn anshang_command(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_anshang"));
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("ANSHANG") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Spawns `cmd` (an `anshang serve --port 0 …` command), reads its standard output up to the
/// "listening on port" line and returns the child, its port and the lines printed before
/// (where the bootstrap password appears on a first start).
pub fn spawn_served(mut cmd: std::process::Command) -> (std::process::Child, u16, Vec<String>) {
    use std::io::BufRead;
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().expect("anshang starts");
    let mut before = Vec::new();
    for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines().map_while(Result::ok) {
        if let Some(port) = line.strip_prefix("anshang: listening on port ") {
            return (child, port.trim().parse().expect("a port"), before);
        }
        before.push(line);
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the server exited before listening: {before:?}");
}

/// The bootstrap password among the lines a first start printed.
pub fn printed_password(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|l| l.trim().strip_prefix("password: ").map(str::to_string))
}

/// A form's fields as `application/x-www-form-urlencoded`, as a browser sends them.
pub fn form_body(pairs: &[(&str, &str)]) -> Vec<u8> {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&").into_bytes()
}

/// The `lang` attribute a page in `lang` (`zh`, `zh-Hant`, `en`) carries.
pub fn html_lang(lang: &str) -> &'static str {
    match lang {
        "zh" => "zh-Hans",
        "zh-Hant" => "zh-Hant",
        "en" => "en",
        other => panic!("no page language {other}"),
    }
}
