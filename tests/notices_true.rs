//! Notices stay true when they are sent: a ladder email queued for working hours is cancelled,
//! never sent, when the clock it speaks of stops, pauses or moves before its send time; the
//! rung is re-armed for the facts as they now are. Staff actions happen at chosen instants
//! (through the service, as the API would call it); sweeps and deliveries run the binary with
//! `--simulate`; a real SMTP server receives what is sent.

mod common;

use std::time::Duration;

use anshang::calendar::WorkingCalendar;
use anshang::complaints::intake::{self, FileComplaintRequest};
use anshang::complaints::model::ReplyOutcome;
use anshang::complaints::service::{self, Acting, Rules};
use anshang::complaints::state::Actor;
use chrono::{DateTime, Utc};
use common::smtp::{ReceivedMail, SmtpSink};
use common::{complaint_json, TestApp};
use serde_json::{json, Value};

/// A running instance with a real SMTP server, the offices, two departments and a handle on
/// the service for acting at chosen instants.
pub struct World {
    pub app: TestApp,
    pub sink: SmtpSink,
    pub admin: String,
    pub coordinator: String,
    pub land: String,
    pub water: String,
    pool: anshang::db::Pool,
    rules: Rules,
    cal: WorkingCalendar,
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

impl World {
    pub fn new() -> World {
        let sink = SmtpSink::start();
        let port = sink.port();
        let app = common::spawn_app_with(move |s| {
            s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
            // The test drives every sweep and delivery itself.
            s.escalation.sweep_interval_secs = 3600;
            s.mail.deliver_interval_secs = 3600;
        });
        let admin = app.admin_token();
        for code in ["coordination-office", "discipline-commission", "party-supervision", "government-supervision"] {
            let r = app.post(
                "/api/v1/departments",
                Some(&admin),
                &json!({"code": code, "name_zh": code, "name_en": code, "kind": "office", "contact_email": format!("{code}@example.gov.cn"), "head_email": format!("{code}-head@example.gov.cn")}),
            );
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let land = app.create_department(&admin, "land");
        let water = app.create_department(&admin, "water");
        let coordinator = app.staff_token(&admin, "coordinator", None);
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 2, Duration::from_secs(5)).unwrap();
        let cal = {
            let mut conn = pool.get().unwrap();
            anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut conn)).unwrap()
        };
        let rules = Rules::from_settings(&app.settings).unwrap();
        World { app, sink, admin, coordinator, land, water, pool, rules, cal }
    }

    /// Runs one service operation as of `now`.
    pub fn act<T>(&self, now: &str, op: impl FnOnce(&mut anshang::db::DbConnection, &service::Ctx) -> Result<T, anshang::error::ApiError>) -> T {
        let mut conn = self.pool.get().unwrap();
        let ctx = self.rules.ctx(&self.cal, at(now));
        op(&mut conn, &ctx).unwrap_or_else(|e| panic!("at {now}: {e:?}"))
    }

    /// Files a complaint in `lang` received at `now`; returns (id, tracking number).
    pub fn file(&self, now: &str, lang: &str) -> (String, String) {
        let request: FileComplaintRequest = serde_json::from_value(complaint_json(lang)).unwrap();
        let filed = self.act(now, |conn, ctx| service::file(conn, ctx, intake::validate(request, false).unwrap(), &Acting::investor(), None));
        (filed.complaint.id.clone(), filed.complaint.tracking_number.clone())
    }

    pub fn coordinator() -> Acting {
        Acting { actor: Actor::Coordinator, user_id: Some("coordinator".into()), department_id: None }
    }

    pub fn department(id: &str) -> Acting {
        Acting { actor: Actor::Department, user_id: Some("clerk".into()), department_id: Some(id.to_string()) }
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = common::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        cmd.args(args);
        cmd.env("ANSHANG__DATABASE__URL", &self.app.database.url).env("ANSHANG__SERVER__DATA_DIR", self.app.data_dir.path());
        cmd.env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{}", self.sink.port()));
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A sweep then a delivery pass as of `now`; returns the sweep's output and what arrived.
    pub fn step(&self, now: &str) -> (String, Vec<ReceivedMail>) {
        let before = self.sink.messages().len();
        let swept = self.cli(&["sweep", "--once", "--simulate", "--now", now]);
        self.cli(&["mail", "deliver", "--once", "--simulate", "--now", now]);
        (swept, self.sink.messages().into_iter().skip(before).collect())
    }

    pub fn outbox(&self, status: &str) -> Vec<Value> {
        self.app.get(&format!("/api/v1/admin/outbox?status={status}&limit=200"), Some(&self.admin)).json().as_array().unwrap().clone()
    }

    pub fn complaint(&self, id: &str) -> Value {
        self.app.get(&format!("/api/v1/complaints/{id}"), Some(&self.coordinator)).json()
    }
}

pub fn recipients(mails: &[ReceivedMail]) -> Vec<String> {
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

/// Due 2026-10-15 (received 2026-09-30, across National Day): the overdue rung is taken at
/// 10-16 00:00 and its emails wait for 08:30; the department replies at 08:00. The "still no
/// reply" notice must not reach the head or the coordination office.
#[test]
fn a_reply_before_the_send_time_cancels_the_queued_overdue_notice() {
    let w = World::new();
    let (id, number) = w.file("2026-09-30T10:00:00+08:00", "en");
    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    assert_eq!(w.complaint(&id)["clock"]["due_date"], "2026-10-15");
    w.step("2026-10-15T12:00:00+08:00"); // receipt, assigned, reminder, due_today
    let (swept, got) = w.step("2026-10-16T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\toverdue")), "{swept}");
    assert!(got.is_empty(), "overdue emails wait for working hours: {got:?}");

    w.act("2026-10-16T08:00:00+08:00", |c, x| service::reply(c, x, &id, &World::department(&w.land), "Granted.", ReplyOutcome::Resolved));
    let (_, got) = w.step("2026-10-16T08:31:00+08:00");
    let to = recipients(&got);
    assert_eq!(to, ["anna.mueller@example.de"], "only the investor's reply notice goes out, no overdue notice: {got:?}");
    let cancelled = w.outbox("cancelled");
    let overdue: Vec<&Value> = cancelled.iter().filter(|m| m["notice"] == "overdue").collect();
    assert_eq!(overdue.len(), 2, "both overdue emails are kept as cancelled: {cancelled:?}");
    for m in overdue {
        assert!(m["cancel_reason"].as_str().unwrap().contains("replied"), "{m}");
        assert!(m["sent_at"].is_null());
    }
    // Later sweeps send nothing more about this clock.
    let (swept, got) = w.step("2026-10-22T10:00:00+08:00");
    assert!(swept.contains("0 rungs taken"), "{swept}");
    assert!(got.is_empty(), "{got:?}");
}

/// The reminder is taken at 00:00 on Saturday 2026-10-10, a make-up working day, and waits for
/// 08:30; the department asks the investor for information at 08:00. No reminder at 08:30; once
/// the investor answers, the reminder is re-armed for the moved due date.
#[test]
fn a_pause_before_the_send_time_cancels_the_queued_reminder_and_the_resume_rearms_it() {
    let w = World::new();
    let (id, number) = w.file("2026-09-28T10:00:00+08:00", "zh");
    w.act("2026-09-28T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    assert_eq!(w.complaint(&id)["clock"]["due_date"], "2026-10-13");
    w.step("2026-09-28T12:00:00+08:00");
    let (swept, got) = w.step("2026-10-10T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\treminder")), "{swept}");
    assert!(got.is_empty(), "{got:?}");

    w.act("2026-10-10T08:00:00+08:00", |c, x| service::request_info(c, x, &id, &World::department(&w.land), "Please send the lease."));
    let (_, got) = w.step("2026-10-10T08:31:00+08:00");
    assert_eq!(recipients(&got), ["anna.mueller@example.de"], "the question reaches the investor; no reminder: {got:?}");
    let reason = w.outbox("cancelled").iter().find(|m| m["notice"] == "reminder").expect("the reminder is cancelled")["cancel_reason"].as_str().unwrap().to_string();
    assert!(reason.contains("paused"), "{reason}");

    // The investor answers on Monday: the clock runs again, the due date moved by the paused
    // working day(s), and the reminder is taken again for the new due date.
    w.act("2026-10-12T09:00:00+08:00", |c, x| service::answer_info(c, x, &id, &Acting::investor(), "Attached."));
    let due = w.complaint(&id)["clock"]["due_date"].as_str().unwrap().to_string();
    assert!(due.as_str() > "2026-10-13", "the due date moved: {due}");
    let (swept, got) = w.step(&format!("{due}T10:00:00+08:00"));
    assert!(swept.contains(&format!("{number}\treminder")), "{swept}");
    assert!(got.iter().any(|m| m.subject().unwrap().contains(&number) && m.to == ["land@example.gov.cn"] && m.text_body().unwrap().contains(&due)), "the re-armed reminder names the new due date: {got:?}");
}

/// Extension asked before the due time (2026-10-15), the breach is recorded at 00:00, the
/// coordination office grants it at 07:00: the complaint is no longer overdue, no overdue email
/// goes out for the old due time, and the overdue rung fires at the new breach — not the referral.
#[test]
fn an_extension_granted_after_the_breach_lifts_it_and_rearms_the_overdue_rung() {
    let w = World::new();
    let (id, number) = w.file("2026-09-30T10:00:00+08:00", "en");
    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    let request = w.act("2026-10-15T16:00:00+08:00", |c, x| service::request_extension(c, x, &id, &World::department(&w.land), 3, "Site visit needed."));
    w.step("2026-10-15T17:00:00+08:00");
    let (swept, _) = w.step("2026-10-16T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\toverdue")), "{swept}");
    assert_eq!(w.complaint(&id)["overdue"], true);

    w.act("2026-10-16T07:00:00+08:00", |c, x| service::decide_extension(c, x, &id, &World::coordinator(), &request, Some(3), "Granted.", None));
    let v = w.complaint(&id);
    assert_eq!(v["overdue"], false, "{v}");
    assert_eq!(v["clock"]["due_date"], "2026-10-20");
    let listed = w.app.get("/api/v1/complaints?overdue=true", Some(&w.coordinator)).json();
    assert!(!listed.to_string().contains(&number), "absent from ?overdue=true: {listed}");
    let (_, got) = w.step("2026-10-16T08:31:00+08:00");
    assert!(got.iter().all(|m| m.to == ["anna.mueller@example.de"]), "no overdue email for the old due time: {got:?}");
    assert!(w.outbox("cancelled").iter().filter(|m| m["notice"] == "overdue").all(|m| m["cancel_reason"].as_str().unwrap().contains("due time moved")));

    // The new breach: overdue again, its email goes out; the referral waits its three days.
    let (swept, _) = w.step("2026-10-21T00:00:00+08:00");
    assert!(swept.contains(&format!("{number}\toverdue")) && !swept.contains("overdue_escalated"), "{swept}");
    let (_, got) = w.step("2026-10-21T08:31:00+08:00");
    assert_eq!(recipients(&got), ["coordination-office@example.gov.cn", "land-head@example.gov.cn"], "{got:?}");
    assert!(got[0].text_body().unwrap().contains("2026-10-20"), "the notice states the new due date");
    assert_eq!(w.complaint(&id)["overdue"], true);
}

/// The breach that an extension later covered is not counted: the department replies before
/// the extended due time and its record shows the reply on time.
#[test]
fn a_breach_covered_by_a_late_granted_extension_does_not_count_in_the_assessment() {
    let w = World::new();
    let (id, number) = w.file("2026-09-30T10:00:00+08:00", "en");
    w.act("2026-09-30T11:00:00+08:00", |c, x| service::assign(c, x, &id, &World::coordinator(), &w.land));
    let request = w.act("2026-10-15T16:00:00+08:00", |c, x| service::request_extension(c, x, &id, &World::department(&w.land), 3, "Site visit needed."));
    w.step("2026-10-16T00:00:00+08:00");
    w.act("2026-10-16T07:00:00+08:00", |c, x| service::decide_extension(c, x, &id, &World::coordinator(), &request, Some(3), "Granted.", None));
    w.act("2026-10-20T10:00:00+08:00", |c, x| service::reply(c, x, &id, &World::department(&w.land), "Done.", ReplyOutcome::Resolved));
    let commission = w.app.staff_token(&w.admin, "commission", None);
    let record = w.app.get(&format!("/api/v1/assessment/2026/departments/{}", w.land), Some(&commission)).json();
    let score = if record.get("score").is_some() { &record["score"] } else { &record };
    let counted = &score["complaints"];
    assert!(counted["on_time"].as_array().is_some_and(|n| n.iter().any(|x| x == number.as_str())), "counted on time: {record}");
    assert!(!counted.to_string().contains("\"late\""), "no late clock: {record}");
    assert_eq!(w.complaint(&id)["overdue"], false);
}
