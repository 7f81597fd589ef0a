//! Two `anshang serve` processes on one database (PostgreSQL in CI's second pass, SQLite in the
//! first): complaints filed through both get unique, gapless numbers; both run the sweeper and
//! the delivery worker, and every notice reaches the SMTP server exactly once.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::complaint_json;
use common::smtp::SmtpSink;
use serde_json::{json, Value};

const SECRET: &str = "two-instances-shared-signing-secret-0123456789";

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base_command(dir: &std::path::Path, db_url: &str, smtp_port: u16) -> Command {
    let mut cmd = common::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    cmd.env("ANSHANG__DATABASE__URL", db_url)
        .env("ANSHANG__SERVER__DATA_DIR", dir)
        .env("ANSHANG__AUTH__JWT_SECRET", SECRET)
        .env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
        .env("ANSHANG__MAIL__DELIVER_INTERVAL_SECS", "1")
        .env("ANSHANG__ESCALATION__SWEEP_INTERVAL_SECS", "1")
        .env("ANSHANG__COMPLAINTS__FILINGS_PER_CLIENT_PER_HOUR", "1000");
    cmd
}

/// Starts `serve`; returns it and the bootstrap password if this start created the admin.
fn start(dir: &std::path::Path, db_url: &str, smtp_port: u16) -> (Instance, Option<String>) {
    let mut cmd = base_command(dir, db_url, smtp_port);
    cmd.args(["serve", "--port", "0"]).stderr(Stdio::null());
    let (child, port, printed) = common::spawn_served(cmd);
    (Instance { child, base: format!("http://127.0.0.1:{port}") }, common::printed_password(&printed))
}

fn call(base: &str, method: &str, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = agent.run(req.body(body.to_string()).unwrap()).unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
}

#[test]
fn two_instances_share_one_database_without_duplicates_or_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let sink = SmtpSink::start();
    let (one, password) = start(dir.path(), &db.url, sink.port());
    let (two, second_password) = start(dir.path(), &db.url, sink.port());
    let password = password.expect("the first instance creates the administrator");
    assert!(second_password.is_none(), "the second instance finds it");

    let email = anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL;
    let otp = call(&one.base, "POST", "/api/v1/auth/login", None, json!({"email": email, "password": password})).1
        ["token"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        &one.base,
        "POST",
        "/api/v1/auth/password",
        Some(&otp),
        json!({"current_password": password, "new_password": common::TEST_PASSWORD}),
    );
    // A token from one instance is good on the other (shared signing key, state in the database).
    let admin =
        call(&one.base, "POST", "/api/v1/auth/login", None, json!({"email": email, "password": common::TEST_PASSWORD}))
            .1["token"]
            .as_str()
            .unwrap()
            .to_string();
    let (status, dept) = call(
        &two.base,
        "POST",
        "/api/v1/departments",
        Some(&admin),
        json!({"code": "land", "name_zh": "国土", "name_en": "Land", "kind": "department", "contact_email": "land@x.gov.cn", "head_email": "head@x.gov.cn"}),
    );
    assert_eq!(status, 201, "{dept}");
    let dept = dept["id"].as_str().unwrap().to_string();
    call(
        &one.base,
        "POST",
        "/api/v1/users",
        Some(&admin),
        json!({"email": "co@x.gov.cn", "display_name": "co", "role": "coordinator", "password": common::TEST_PASSWORD}),
    );
    let coordinator = call(
        &two.base,
        "POST",
        "/api/v1/auth/login",
        None,
        json!({"email": "co@x.gov.cn", "password": common::TEST_PASSWORD}),
    )
    .1["token"]
        .as_str()
        .unwrap()
        .to_string();

    // 30 filings, alternating instances, from 6 threads at once.
    let bases = [one.base.clone(), two.base.clone()];
    let filed: Vec<(String, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|t| {
                let bases = &bases;
                s.spawn(move || {
                    (0..5)
                        .map(|i| {
                            // Each its own investor: one address gets only a few receipts a day.
                            let mut body = complaint_json("en");
                            body["complainant"]["email"] = serde_json::json!(format!("investor-{t}-{i}@example.de"));
                            let (status, v) = call(&bases[(t + i) % 2], "POST", "/api/v1/complaints", None, body);
                            assert_eq!(status, 201, "{v}");
                            (v["id"].as_str().unwrap().to_string(), v["tracking_number"].as_str().unwrap().to_string())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut seqs: Vec<u32> = filed.iter().map(|(_, n)| n.rsplit('-').next().unwrap().parse().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=30).collect::<Vec<_>>(), "unique and gapless across instances");
    for (i, (id, _)) in filed.iter().enumerate() {
        let (status, v) = call(
            &bases[i % 2],
            "POST",
            &format!("/api/v1/complaints/{id}/assign"),
            Some(&coordinator),
            json!({"department_id": dept}),
        );
        assert_eq!(status, 200, "{v}");
    }

    // Both instances deliver in the background: 30 receipts + 30 assignment notices, once each.
    let mails = sink.wait_for(60, Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, pending) =
            call(&one.base, "GET", "/api/v1/admin/outbox?status=pending&limit=200", Some(&admin), json!(null));
        if pending.as_array().is_some_and(|p| p.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "outbox never drained");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mails = if mails.len() < sink.messages().len() { sink.messages() } else { mails };
    assert_eq!(mails.len(), 60, "every notice once");
    let ids: BTreeSet<String> = mails.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    assert_eq!(ids.len(), 60, "no message twice");

    // Later in the complaints' life both instances' sweepers and workers race: still once each.
    let later = (chrono::Utc::now() + chrono::Duration::days(40)).to_rfc3339();
    let run = |args: &[&str]| {
        let out = base_command(dir.path(), &db.url, sink.port()).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let swept: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2).map(|_| s.spawn(|| run(&["sweep", "--once", "--simulate", "--now", &later]))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let rungs: usize = swept.iter().map(|o| o.lines().filter(|l| l.contains('\t')).count()).sum();
    assert_eq!(rungs, 30 * 4, "reminder, due today, overdue, escalated: once per complaint");
    std::thread::scope(|s| {
        let hs: Vec<_> =
            (0..2).map(|_| s.spawn(|| run(&["mail", "deliver", "--once", "--simulate", "--now", &later]))).collect();
        hs.into_iter().for_each(|h| drop(h.join().unwrap()));
    });
    // Reminder + due today (contact), overdue (head; the coordination office does not exist
    // here), escalated (no offices here): 3 emails per complaint.
    let all = sink.wait_for(60 + 90, Duration::from_secs(30));
    let ids: BTreeSet<String> = all.iter().map(|m| m.header("Message-ID").unwrap()).collect();
    assert_eq!(all.len(), 150);
    assert_eq!(ids.len(), 150);
    drop(one);
    drop(two);
}

/// Sends raw bytes (or nothing) with extra headers; returns the status, the headers and the body.
fn exchange(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = ureq::http::Request::builder().method(method).uri(format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = match body {
        Some(bytes) => agent.run(req.header("Content-Type", "application/octet-stream").body(bytes).unwrap()),
        None => agent.run(req.body(()).unwrap()),
    }
    .unwrap();
    let status = resp.status().as_u16();
    let headers =
        resp.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string())).collect();
    let bytes = resp.body_mut().with_config().limit(50 * 1024 * 1024).read_to_vec().unwrap();
    (status, headers, bytes)
}

/// Starts `serve` with its own data directory (nothing on disk is shared, only the database),
/// trusting the proxy's X-Forwarded-For so that the test can speak as one client to both.
fn start_alone(db_url: &str, smtp_port: u16, tracking_per_minute: u32) -> (Instance, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = base_command(dir.path(), db_url, smtp_port);
    cmd.env("ANSHANG__AUTH__AUDIT_KEY", "two-instances-shared-audit-key-0123456789abcdef")
        .env("ANSHANG__SERVER__TRUST_FORWARDED_FOR", "true")
        .env("ANSHANG__COMPLAINTS__TRACKING_LOOKUPS_PER_CLIENT_PER_MINUTE", tracking_per_minute.to_string())
        .args(["serve", "--port", "0"])
        .stderr(Stdio::null());
    let (child, port, _) = common::spawn_served(cmd);
    (Instance { child, base: format!("http://127.0.0.1:{port}") }, dir)
}

#[test]
fn a_client_limited_on_one_instance_is_limited_on_the_other_and_files_reach_both() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(db_dir.path());
    let sink = SmtpSink::start();
    let (one, _one_dir) = start_alone(&db.url, sink.port(), 3);
    let (two, _two_dir) = start_alone(&db.url, sink.port(), 3);

    // A file of three chunks, uploaded through one instance, comes back whole through the other.
    let (status, filed) = call(&one.base, "POST", "/api/v1/complaints", None, complaint_json("en"));
    assert_eq!(status, 201, "{filed}");
    let (number, code) = (filed["tracking_number"].as_str().unwrap(), filed["access_code"].as_str().unwrap());
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..700 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let uploader = [("X-Access-Code", code), ("X-Forwarded-For", "198.51.100.1")];
    let (status, _, body) = exchange(
        &one.base,
        "POST",
        &format!("/api/v1/track/{number}/attachments?filename=survey.pdf"),
        &uploader,
        Some(pdf.clone()),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let view: Value = serde_json::from_slice(&body).unwrap();
    let aid = view["attachments"][0]["id"].as_str().unwrap();
    let (status, headers, downloaded) =
        exchange(&two.base, "GET", &format!("/api/v1/track/{number}/attachments/{aid}"), &uploader, None);
    assert_eq!(status, 200);
    assert_eq!(downloaded.len(), pdf.len());
    assert!(downloaded == pdf, "identical bytes through the other instance");
    assert!(headers.iter().any(|(k, v)| k == "content-type" && v == "application/pdf"));

    // Three tracking lookups a minute per client: two on one instance, one on the other, and
    // the fourth is refused wherever it arrives — on PostgreSQL, where limits are shared.
    let guesser = [("X-Access-Code", "AAAA-BBBB-CCCC-DDDD"), ("X-Forwarded-For", "203.0.113.7")];
    let lookup =
        |base: &str, who: &[(&str, &str)]| exchange(base, "GET", &format!("/api/v1/track/{number}"), who, None);
    assert_eq!(lookup(&one.base, &guesser).0, 404);
    assert_eq!(lookup(&one.base, &guesser).0, 404);
    assert_eq!(lookup(&two.base, &guesser).0, 404);
    let (status, headers, _) = lookup(&two.base, &guesser);
    if common::uses_postgres() {
        assert_eq!(status, 429, "the budget is shared across instances");
        let retry: u64 = headers.iter().find(|(k, _)| k == "retry-after").unwrap().1.parse().unwrap();
        assert!((1..=20).contains(&retry), "one lookup frees up every 20 s: {retry}");
        assert_eq!(lookup(&one.base, &guesser).0, 429, "and on the first instance too");
        // Another client is not touched by this one's budget.
        let other = [("X-Access-Code", "AAAA-BBBB-CCCC-DDDD"), ("X-Forwarded-For", "203.0.113.8")];
        assert_eq!(lookup(&one.base, &other).0, 404);
        // The table holds no address, only keyed hashes.
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            key_hash: String,
        }
        let mut conn = diesel::PgConnection::establish(&db.url).unwrap();
        let rows: Vec<Row> = diesel::sql_query("SELECT key_hash FROM rate_limits").load(&mut conn).unwrap();
        assert!(rows.len() >= 2, "buckets are in the database");
        assert!(rows.iter().all(|r| r.key_hash.len() == 64 && !r.key_hash.contains("203.0.113")));
    } else {
        // SQLite serves one instance by design: each counts its own.
        assert_eq!(status, 404, "per-instance limits on SQLite");
        assert_eq!(lookup(&one.base, &guesser).0, 404);
        assert_eq!(lookup(&one.base, &guesser).0, 429, "each instance refuses its own fourth");
    }
    drop(one);
    drop(two);
}
