//! The escalation ladder and email, end to end: `anshang sweep --now` stepped through one
//! unanswered complaint's life with a real SMTP server receiving every notice; working-hours
//! deferral; SMTP down and back; zero-setup .eml files; two sweepers over many due complaints;
//! a crash between commit and delivery.

mod common;

use std::process::Command;
use std::time::Duration;

use anshang::complaints::context::{Acting, Rules};
use anshang::complaints::intake::{self, FileComplaintRequest};
use anshang::complaints::service;
use chrono::{DateTime, NaiveDate, Utc};
use common::smtp::SmtpSink;
use common::{complaint_json, TestApp};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_anshang");

fn offices(app: &TestApp, admin: &str) {
    for code in ["coordination-office", "discipline-commission", "party-supervision", "government-supervision"] {
        let r = app.post(
            "/api/v1/departments",
            Some(admin),
            &json!({"code": code, "name_zh": code, "name_en": code, "kind": "office", "contact_email": format!("{code}@example.gov.cn"), "head_email": format!("{code}-head@example.gov.cn")}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

fn cli(app: &TestApp, smtp_port: Option<u16>, args: &[&str]) -> String {
    let mut cmd = common::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    cmd.args(args);
    cmd.env("ANSHANG__DATABASE__URL", &app.database.url).env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path());
    if let Some(p) = smtp_port {
        cmd.env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{p}"));
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn local(date: NaiveDate, hms: &str) -> String {
    format!("{date}T{hms}+08:00")
}

fn due_after(app: &TestApp, received: &str, days: u32) -> NaiveDate {
    let q = received.replace('+', "%2B");
    let v = app.get(&format!("/api/v1/calendar/due?received={q}&days={days}"), None).json();
    v["due_date"].as_str().unwrap().parse().unwrap()
}

/// (subject, recipients) of the messages received after `skip`.
fn received_since(sink: &SmtpSink, skip: usize) -> Vec<(String, Vec<String>)> {
    sink.messages().into_iter().skip(skip).map(|m| (m.subject().unwrap_or_default(), m.to.clone())).collect()
}

#[test]
fn an_unanswered_complaint_climbs_the_whole_ladder_once() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        // The background workers stay out of the way: the test drives every step.
        s.escalation.sweep_interval_secs = 3600;
        s.mail.deliver_interval_secs = 3600;
    });
    let admin = app.admin_token();
    offices(&app, &admin);
    let dept = app.create_department(&admin, "land");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (id, number) =
        (filed["id"].as_str().unwrap().to_string(), filed["tracking_number"].as_str().unwrap().to_string());
    let received = filed["received_at"].as_str().unwrap().to_string();
    assert_eq!(
        app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}))
            .status,
        200
    );

    // Receipt and assignment go out at once.
    cli(&app, Some(port), &["mail", "deliver", "--once"]);
    let first = received_since(&sink, 0);
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(first[0].0.contains(&number) && first[0].1 == ["anna.mueller@example.de"], "receipt: {first:?}");
    assert!(first[1].0.contains(&number) && first[1].1 == ["land@example.gov.cn"], "assigned: {first:?}");

    let due: NaiveDate = filed["due_date"].as_str().unwrap().parse().unwrap();
    let reminder_day = due_after(&app, &received, 5); // two working days left from its start
    let escalation_day = due_after(&app, &local(due, "10:00:00"), 3);
    let next_working_day = due_after(&app, &local(due, "10:00:00"), 1);

    let step = |now: &str| {
        let before = sink.messages().len();
        let swept = cli(&app, Some(port), &["sweep", "--once", "--simulate", "--now", now]);
        cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", now]);
        (swept, received_since(&sink, before))
    };

    // Nothing is due the evening before the reminder day.
    let (swept, got) = step(&local(reminder_day.pred_opt().unwrap(), "20:00:00"));
    assert!(swept.contains("0 rungs taken"), "{swept}");
    assert!(got.is_empty(), "{got:?}");

    let (swept, got) = step(&local(reminder_day, "10:00:00"));
    assert!(swept.contains(&format!("{number}\treminder")), "{swept}");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, ["land@example.gov.cn"]);

    let (_, got) = step(&local(due, "10:00:00"));
    assert_eq!(got.len(), 1, "due_today: {got:?}");
    assert_eq!(got[0].1, ["land@example.gov.cn"]);

    // The breach is recorded at once (00:00:01 after the due date) but its emails wait for
    // working hours.
    let breach = due.succ_opt().unwrap();
    let (swept, got) = step(&local(breach, "00:00:01"));
    assert!(swept.contains(&format!("{number}\toverdue")), "{swept}");
    assert!(got.is_empty(), "overdue emails wait for 08:30: {got:?}");
    let v = app.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)).json();
    assert_eq!(v["overdue"], true, "the breach fact is recorded before its emails go out");
    let (_, got) = step(&local(next_working_day, "08:31:00"));
    let mut overdue_to: Vec<String> = got.iter().flat_map(|(_, to)| to.clone()).collect();
    overdue_to.sort();
    assert_eq!(overdue_to, ["coordination-office@example.gov.cn", "land-head@example.gov.cn"], "{got:?}");

    let (_, got) = step(&local(escalation_day, "10:00:00"));
    let mut escalated_to: Vec<String> = got.iter().flat_map(|(_, to)| to.clone()).collect();
    escalated_to.sort();
    assert_eq!(
        escalated_to,
        [
            "discipline-commission@example.gov.cn",
            "government-supervision@example.gov.cn",
            "party-supervision@example.gov.cn"
        ]
    );

    // Sweeping again changes nothing: every rung is taken exactly once.
    let (swept, got) = step(&local(escalation_day, "11:00:00"));
    assert!(swept.contains("0 rungs taken") && got.is_empty(), "{swept} {got:?}");
    let all = sink.messages();
    assert_eq!(all.len(), 2 + 1 + 1 + 2 + 3);
    for m in &all {
        assert!(m.subject().unwrap().contains(&number), "tracking number in every subject");
        assert!(m.data.contains("Message-ID: <"), "every message has a Message-ID");
        assert!(m.data.contains("text/plain") && m.data.contains("text/html"));
    }
    let events = app.get(&format!("/api/v1/complaints/{id}/events"), Some(&coordinator)).json();
    let rungs: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "escalation")
        .map(|e| e["detail"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(rungs, ["reminder", "due_today", "overdue", "overdue_escalated"]);
    assert_eq!(events["chain_valid"], true);
    // Delivered bodies are purged; the admin sees the log without them.
    let outbox = app.get("/api/v1/admin/outbox?status=sent", Some(&admin)).json();
    assert_eq!(outbox.as_array().unwrap().len(), 9);
    assert!(outbox.to_string().contains("***@"), "recipients are masked");
    assert!(!outbox.to_string().contains("text_body"));
}

#[test]
fn a_reply_cancels_the_ladder_and_a_pause_holds_it() {
    let app = common::spawn_app();
    let admin = app.admin_token();
    offices(&app, &admin);
    let dept = app.create_department(&admin, "land");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let staff = app.staff_token(&admin, "department", Some(&dept));
    let filed = app.post("/api/v1/complaints", None, &complaint_json("zh")).json();
    let id = filed["id"].as_str().unwrap().to_string();
    app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}));
    app.post(&format!("/api/v1/complaints/{id}/request-info"), Some(&staff), &json!({"question": "请补充材料"}));
    let due: NaiveDate = filed["due_date"].as_str().unwrap().parse().unwrap();
    let late = local(due.succ_opt().unwrap().succ_opt().unwrap(), "12:00:00");
    // Paused: nothing is taken even long after the due date.
    assert!(cli(&app, None, &["sweep", "--once", "--simulate", "--now", &late]).contains("0 rungs taken"));
    app.post(
        &format!("/api/v1/complaints/{id}/reply"),
        Some(&staff),
        &json!({"text": "已办理", "outcome": "resolved"}),
    );
    assert!(cli(&app, None, &["sweep", "--once", "--simulate", "--now", &late]).contains("0 rungs taken"));
}

#[test]
fn smtp_down_is_retried_and_delivered_once_it_is_back() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.deliver_interval_secs = 3600;
    });
    sink.set_accepting(false);
    let number = app.post("/api/v1/complaints", None, &complaint_json("en")).json()["tracking_number"]
        .as_str()
        .unwrap()
        .to_string();
    let now = Utc::now();
    let at = |secs: i64| (now + chrono::Duration::seconds(secs)).to_rfc3339();
    assert!(cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", &at(0)])
        .contains("0 sent, 1 to retry"));
    // Not before its backoff.
    assert!(cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", &at(30)])
        .contains("0 sent, 0 to retry"));
    sink.set_accepting(true);
    assert!(cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", &at(61)]).contains("1 sent"));
    assert!(cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", &at(3600)]).contains("0 sent"));
    let got = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(got.len(), 1);
    assert!(got[0].data.contains(&number));
    let admin = app.admin_token();
    let sent = app.get("/api/v1/admin/outbox", Some(&admin)).json();
    assert_eq!(sent[0]["status"], "sent");
    assert_eq!(sent[0]["attempts"], 2);
}

#[test]
fn permanent_failures_are_visible_and_can_be_retried_by_an_admin() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.deliver_interval_secs = 3600;
        s.mail.max_attempts = 2;
    });
    sink.set_accepting(false);
    app.post("/api/v1/complaints", None, &complaint_json("en"));
    let cmd_env = |now: &str| {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(["mail", "deliver", "--once", "--simulate", "--now", now]);
        cmd.env("ANSHANG__DATABASE__URL", &app.database.url).env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path());
        cmd.env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{port}")).env("ANSHANG__MAIL__MAX_ATTEMPTS", "2");
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let now = Utc::now();
    cmd_env(&now.to_rfc3339());
    assert!(cmd_env(&(now + chrono::Duration::minutes(5)).to_rfc3339()).contains("1 failed"));
    let admin = app.admin_token();
    let failed = app.get("/api/v1/admin/outbox?status=failed", Some(&admin)).json();
    assert_eq!(failed.as_array().unwrap().len(), 1);
    let id = failed[0]["id"].as_str().unwrap();
    assert!(failed[0]["last_error"].as_str().unwrap().contains("SMTP"));
    let coordinator = app.staff_token(&admin, "coordinator", None);
    app.post(&format!("/api/v1/admin/outbox/{id}/retry"), Some(&coordinator), &json!({}))
        .assert_problem(403, "forbidden");
    let r = app.post(&format!("/api/v1/admin/outbox/{id}/retry"), Some(&admin), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    app.post(&format!("/api/v1/admin/outbox/{id}/retry"), Some(&admin), &json!({})).assert_problem(409, "conflict");
    sink.set_accepting(true);
    assert!(cmd_env(&Utc::now().to_rfc3339()).contains("1 sent"));
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).len(), 1);
}

#[test]
fn without_smtp_the_zero_setup_run_writes_readable_eml_files() {
    let app = common::spawn_app();
    let number = app.post("/api/v1/complaints", None, &complaint_json("zh")).json()["tracking_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(cli(&app, None, &["mail", "deliver", "--once"]).contains("1 sent"));
    let dir = app.data_dir.path().join("outbox");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let eml = std::fs::read_to_string(&files[0]).unwrap();
    assert!(eml.contains("To: anna.mueller@example.de"), "{eml}");
    assert!(eml.contains("Message-ID: <"));
    assert!(eml.contains("Subject: "));
    assert!(eml.contains(&number) || eml.contains("=?utf-8?"), "the tracking number is in the (encoded) subject");
    assert!(eml.contains("multipart/alternative"));
}

/// Files `n` complaints received at `received` straight through the service (fast, and with a
/// receipt instant in the past so their rungs are due).
fn file_many(app: &TestApp, n: usize, received: DateTime<Utc>) {
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 2, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    let cal = anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut conn)).unwrap();
    let rules = Rules::from_settings(&app.settings).unwrap();
    let ctx = rules.ctx(&cal, received);
    for i in 0..n {
        // Each its own investor: one address gets only a few receipts a day (mail::budget).
        let mut body = complaint_json("en");
        body["complainant"]["email"] = serde_json::json!(format!("investor-{i}@example.de"));
        let request: FileComplaintRequest = serde_json::from_value(body).unwrap();
        service::file(&mut conn, &ctx, &intake::validate(request, false).unwrap(), &Acting::investor(), None).unwrap();
    }
}

#[test]
fn two_sweepers_over_many_due_complaints_take_every_rung_exactly_once() {
    let app = common::spawn_app_with(|s| s.escalation.sweep_interval_secs = 3600);
    let admin = app.admin_token();
    offices(&app, &admin);
    let n = 1000;
    file_many(&app, n, DateTime::parse_from_rfc3339("2026-03-02T10:00:00+08:00").unwrap().to_utc());
    let now = "2026-06-01T12:00:00+08:00";
    let outputs: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> =
            (0..2).map(|_| s.spawn(|| cli(&app, None, &["sweep", "--once", "--simulate", "--now", now]))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let taken: usize = outputs.iter().map(|o| o.lines().filter(|l| l.contains('\t')).count()).sum();
    // Unassigned complaints: reminder, due_today, overdue, overdue_escalated each, once.
    assert_eq!(taken, n * 4, "{:?}", outputs.iter().map(|o| o.lines().last()).collect::<Vec<_>>());
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    use diesel::prelude::*;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |conn: &mut anshang::db::DbConnection, sql: &str| {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n as usize
    };
    assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM clock_escalations"), n * 4);
    // Per complaint: receipt 1, reminder 1 + due_today 1 (coordination office, as no department
    // holds it), overdue 1 (the fallback and the office are the same address), escalated 3.
    assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM outbox"), n * (1 + 1 + 1 + 1 + 3));
    assert_eq!(count(&mut conn, "SELECT COUNT(DISTINCT dedupe_key) AS n FROM outbox"), n * 7);
}

#[test]
fn a_crash_between_commit_and_delivery_loses_nothing_and_sends_once() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.deliver_interval_secs = 3600;
    });
    app.post("/api/v1/complaints", None, &complaint_json("en"));
    // A worker claims the message and dies before sending (its lease is left behind).
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let now = Utc::now();
    {
        let mut conn = pool.get().unwrap();
        assert_eq!(anshang::mail::outbox::claim(&mut conn, "crashed-worker", now, 10).unwrap().len(), 1);
    }
    let at = |mins: i64| (now + chrono::Duration::minutes(mins)).to_rfc3339();
    // While the lease holds nobody else sends it; after it lapses, it is sent exactly once.
    assert!(cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", &at(1)]).contains("0 sent"));
    assert!(cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", &at(6)]).contains("1 sent"));
    assert!(cli(&app, Some(port), &["mail", "deliver", "--once", "--simulate", "--now", &at(60)]).contains("0 sent"));
    assert_eq!(sink.wait_for(1, Duration::from_secs(5)).len(), 1);
    assert_eq!(sink.messages().len(), 1);
}
