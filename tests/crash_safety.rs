//! Kill -9 at random moments while complaints are filed, assigned and answered and while the
//! workers sweep and deliver; after every restart nothing acknowledged is missing, tracking
//! numbers stay gapless, every audit chain verifies, and every notice exists exactly once in the
//! outbox and reaches the SMTP server under its own Message-ID (a kill between the relay's
//! acceptance and the commit may repeat that one message — at most once per kill).

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::complaint_json;
use common::smtp::SmtpSink;
use rand::Rng;
use serde_json::{json, Value};

const SECRET: &str = "crash-safety-shared-signing-secret-0123456789";
const KILLS: usize = 100;

fn command(dir: &std::path::Path, db_url: &str, smtp: u16) -> Command {
    let mut cmd = common::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    cmd.env("ANSHANG__DATABASE__URL", db_url)
        .env("ANSHANG__SERVER__DATA_DIR", dir)
        .env("ANSHANG__AUTH__JWT_SECRET", SECRET)
        .env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{smtp}"))
        .env("ANSHANG__MAIL__DELIVER_INTERVAL_SECS", "1")
        .env("ANSHANG__ESCALATION__SWEEP_INTERVAL_SECS", "1")
        .env("ANSHANG__COMPLAINTS__FILINGS_PER_CLIENT_PER_HOUR", "100000")
        .env("ANSHANG__AUTH__LOGIN_PER_CLIENT_PER_MINUTE", "100000")
        .env("ANSHANG__AUTH__LOGIN_PER_ACCOUNT_PER_MINUTE", "100000");
    cmd
}

fn call(
    agent: &ureq::Agent,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Option<(u16, Value)> {
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    // A killed server shows up as a transport error: the request was not acknowledged.
    let mut resp = agent.run(req.body(body.to_string()).unwrap()).ok()?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// Starts `serve`, waits for its port line; returns (child, base URL, bootstrap password).
fn start(dir: &std::path::Path, db_url: &str, smtp: u16) -> (std::process::Child, String, Option<String>) {
    let mut cmd = command(dir, db_url, smtp);
    cmd.args(["serve", "--port", "0"]).stderr(Stdio::null());
    let (child, port, printed) = common::spawn_served(cmd);
    (child, format!("http://127.0.0.1:{port}"), common::printed_password(&printed))
}

#[test]
fn random_kills_lose_nothing_and_repeat_at_most_the_message_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let sink = SmtpSink::start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into();
    let mut rng = rand::thread_rng();

    // Set-up on a first instance: the administrator, a department, a coordinator, a department user.
    let (mut child, base, password) = start(dir.path(), &db.url, sink.port());
    let password = password.unwrap();
    let email = anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL;
    let otp = call(&agent, &base, "POST", "/api/v1/auth/login", None, &json!({"email": email, "password": password}))
        .unwrap()
        .1["token"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        &agent,
        &base,
        "POST",
        "/api/v1/auth/password",
        Some(&otp),
        &json!({"current_password": password, "new_password": common::TEST_PASSWORD}),
    );
    let admin = call(
        &agent,
        &base,
        "POST",
        "/api/v1/auth/login",
        None,
        &json!({"email": email, "password": common::TEST_PASSWORD}),
    )
    .unwrap()
    .1["token"]
        .as_str()
        .unwrap()
        .to_string();
    let dept = call(&agent, &base, "POST", "/api/v1/departments", Some(&admin), &json!({"code": "land", "name_zh": "国土", "name_en": "Land", "kind": "department", "contact_email": "land@x.gov.cn", "head_email": "head@x.gov.cn"})).unwrap().1["id"].as_str().unwrap().to_string();
    for (e, role, d) in [("co@x.gov.cn", "coordinator", Value::Null), ("st@x.gov.cn", "department", json!(dept))] {
        call(
            &agent,
            &base,
            "POST",
            "/api/v1/users",
            Some(&admin),
            &json!({"email": e, "display_name": e, "role": role, "department_id": d, "password": common::TEST_PASSWORD}),
        );
    }
    let coordinator = call(
        &agent,
        &base,
        "POST",
        "/api/v1/auth/login",
        None,
        &json!({"email": "co@x.gov.cn", "password": common::TEST_PASSWORD}),
    )
    .unwrap()
    .1["token"]
        .as_str()
        .unwrap()
        .to_string();
    let staff = call(
        &agent,
        &base,
        "POST",
        "/api/v1/auth/login",
        None,
        &json!({"email": "st@x.gov.cn", "password": common::TEST_PASSWORD}),
    )
    .unwrap()
    .1["token"]
        .as_str()
        .unwrap()
        .to_string();

    let mut filed: Vec<String> = Vec::new(); // acknowledged complaint ids
    let mut replied: BTreeSet<String> = BTreeSet::new(); // acknowledged replies
    let mut base = base;
    let started = Instant::now();
    for _ in 0..KILLS {
        // Work against the live server from another thread; kill it at a random moment.
        let work_base = base.clone();
        let (co, st, dept) = (coordinator.clone(), staff.clone(), dept.clone());
        let known: Vec<String> = filed.clone();
        let agent2 = agent.clone();
        let worker = std::thread::spawn(move || {
            let mut new_ids = Vec::new();
            let mut new_replies = Vec::new();
            for _ in 0..20 {
                // Each its own investor: one address gets only a few receipts a day (mail::budget).
                let mut body = complaint_json("en");
                body["complainant"]["email"] = json!(format!("investor-{}@example.de", uuid::Uuid::new_v4().simple()));
                match call(&agent2, &work_base, "POST", "/api/v1/complaints", None, &body) {
                    Some((201, v)) => new_ids.push(v["id"].as_str().unwrap().to_string()),
                    Some((status, v)) => panic!("filing answered {status}: {v}"),
                    None => break,
                }
                if let Some(id) = new_ids.last().or(known.last()) {
                    if call(
                        &agent2,
                        &work_base,
                        "POST",
                        &format!("/api/v1/complaints/{id}/assign"),
                        Some(&co),
                        &json!({"department_id": dept}),
                    )
                    .is_none()
                    {
                        break;
                    }
                    match call(
                        &agent2,
                        &work_base,
                        "POST",
                        &format!("/api/v1/complaints/{id}/reply"),
                        Some(&st),
                        &json!({"text": "done", "outcome": "resolved"}),
                    ) {
                        Some((200, _)) => new_replies.push(id.clone()),
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            (new_ids, new_replies)
        });
        // Long enough, on a loaded machine, for some work to be acknowledged before most kills.
        std::thread::sleep(Duration::from_millis(rng.gen_range(20..200)));
        child.kill().unwrap();
        child.wait().unwrap();
        let (ids, replies) = worker.join().unwrap();
        filed.extend(ids);
        replied.extend(replies);
        let (c, b, _) = start(dir.path(), &db.url, sink.port());
        child = c;
        base = b;
    }
    let elapsed = started.elapsed();

    child.kill().unwrap();
    child.wait().unwrap();
    // A killed worker's lease on the rows it had claimed lapses after 5 minutes; deliver as if
    // that time had passed (bounded number of passes).
    let later = (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339();
    for pass in 0.. {
        assert!(pass < 20, "the outbox never drained");
        let out = command(dir.path(), &db.url, sink.port())
            .args(["mail", "deliver", "--once", "--simulate", "--now", &later])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        if String::from_utf8_lossy(&out.stdout).contains("mail: 0 sent, 0 to retry, 0 failed") {
            break;
        }
    }

    // Every acknowledged filing and reply is there; numbers are gapless; chains verify.
    use diesel::prelude::*;
    let url = anshang::db::DatabaseUrl::parse(&db.url, dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    use anshang::db::schema::{complaints, outbox};
    let rows: Vec<(String, i64, String)> = complaints::table
        .select((complaints::id, complaints::tracking_seq, complaints::status))
        .load(&mut *conn)
        .unwrap();
    let ids: BTreeSet<&String> = rows.iter().map(|r| &r.0).collect();
    for id in &filed {
        assert!(ids.contains(id), "an acknowledged complaint is missing");
    }
    for id in &replied {
        let status = &rows.iter().find(|r| &r.0 == id).unwrap().2;
        assert_eq!(status, "replied", "an acknowledged reply is missing");
    }
    let mut seqs: Vec<i64> = rows.iter().map(|r| r.1).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=rows.len() as i64).collect::<Vec<_>>(), "tracking numbers are gapless");
    // The chains are sealed with the instances' audit key (generated into the data directory).
    anshang::audit::install(std::fs::read_to_string(dir.path().join("audit.key")).unwrap().trim().as_bytes().to_vec());
    let (events, breaks) = anshang::complaints::events::verify_all(&mut conn).unwrap();
    let (_, admin_break) = anshang::admin_log::verify(&mut conn).unwrap();
    assert_eq!(admin_break, None);
    assert!(breaks.is_empty(), "{breaks:?}");
    // Exactly one receipt per complaint in the outbox, all sent; each reached the SMTP server
    // under its own Message-ID (a kill between the relay's acceptance and the commit may repeat
    // a message, never under a new identity, never lose one).
    let receipts: Vec<(String, String)> = outbox::table
        .filter(outbox::notice.eq("receipt"))
        .select((outbox::status, outbox::message_id))
        .load(&mut *conn)
        .unwrap();
    assert_eq!(receipts.len(), rows.len());
    assert!(receipts.iter().all(|r| r.0 == "sent"));
    let all: Vec<(String, String)> =
        outbox::table.select((outbox::status, outbox::message_id)).load(&mut *conn).unwrap();
    let delivered: BTreeSet<String> = sink.messages().iter().filter_map(|m| m.header("Message-ID")).collect();
    // A ladder notice cancelled because the reply came first is never sent, by design; every
    // other queued notice arrived.
    let mut cancelled_after_relay = 0;
    for (status, id) in &all {
        assert!(status == "sent" || status == "cancelled", "{status}: every notice is sent or cancelled");
        if status == "sent" {
            assert!(delivered.contains(id), "a queued notice never arrived");
        } else if delivered.contains(id) {
            // Killed between the relay's acceptance and the commit; cancelled before the retry.
            cancelled_after_relay += 1;
        }
    }
    let duplicates = sink.messages().len() - delivered.len();
    println!("{KILLS} kills in {elapsed:?}: {} complaints ({} acknowledged), {} replies, {events} events verified, {} emails, {duplicates} repeated deliveries", rows.len(), filed.len(), replied.len(), all.len());
    assert!(filed.len() > KILLS / 2, "the kills left room for work");
    // A kill can land between the relay's acceptance and the commit that marks the row sent:
    // at most one repeat per kill, always under the message's own Message-ID.
    assert!(
        duplicates + cancelled_after_relay <= KILLS,
        "{duplicates} repeats and {cancelled_after_relay} cancelled after the relay took them, for {KILLS} kills"
    );
}
