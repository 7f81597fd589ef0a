//! Realistic data for the load benchmark (`scripts/bench-http.sh`), written through the same
//! service operations the API uses, so every row, event chain and queued notice is what the
//! service itself would have written:
//!
//!   cargo bench --bench http_seed -- --url URL --complaints N --out FILE
//!
//! The demo departments and accounts (28 handling units, plus 2 here: 30), then N complaints filed over the last 120 days,
//! spread over the departments: some unassigned, most assigned and replied and rated, some
//! paused for information, some with an approved extension; every 25th is held open by the
//! department "drc" (the inbox the benchmark reads, ≥ 300 open cases at 10,000 complaints).
//! Then one sweep, and the queued emails marked delivered, as a running service would have left
//! them. Writes FILE as `KEY=value` lines for the script: a tracking number and access code of a
//! complaint with a pause, an extension and a reply, the counts per state.
//!
//! (Under `cargo test`/nextest the binary is only listed, never run.)

use std::collections::BTreeMap;
use std::io::Write;

use anshang::complaints::context::{Acting, Rules};
use anshang::complaints::intake::{self, FileComplaintRequest};
use anshang::complaints::model::{Rating, ReplyOutcome};
use anshang::complaints::service::{self, ExtensionDecision};
use anshang::complaints::state::Actor;
use anshang::config::{Settings, SettingsSource};
use anshang::db::DbConnection;
use anshang::ids::{ComplaintId, DepartmentId};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde_json::json;

/// How one seeded complaint goes on after filing.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Path {
    Unassigned,
    Open,
    Paused,
    InfoThenReplied,
    ExtendedThenReplied,
    Replied,
    /// Information asked and answered, an extension approved, replied, rated: the tracking
    /// view's richest case, the one the benchmark reads.
    Everything,
    /// Held open by "drc" (a third of them paused).
    DrcOpen,
}

fn path_of(i: usize) -> Path {
    if i % 25 == 0 {
        return Path::DrcOpen;
    }
    match i % 10 {
        0 => Path::Unassigned,
        1 | 2 => Path::Open,
        3 => Path::Paused,
        4 => Path::InfoThenReplied,
        5 => Path::ExtendedThenReplied,
        9 => Path::Everything,
        _ => Path::Replied,
    }
}

struct Args {
    url: String,
    complaints: usize,
    out: std::path::PathBuf,
}

fn args() -> Option<Args> {
    let raw: Vec<String> = std::env::args().collect();
    if !raw.iter().any(|a| a == "--bench") {
        return None; // listed by a test runner: nothing to run
    }
    let value = |flag: &str| raw.iter().position(|a| a == flag).and_then(|i| raw.get(i + 1)).cloned();
    let usage = "usage: cargo bench --bench http_seed -- --url URL --complaints N --out FILE";
    Some(Args {
        url: value("--url").expect(usage),
        complaints: value("--complaints").and_then(|n| n.parse().ok()).expect(usage),
        out: value("--out").expect(usage).into(),
    })
}

fn main() {
    let Some(args) = args() else { return };
    let mut settings = Settings::load(&SettingsSource { env: Some(vec![]), ..Default::default() }).unwrap();
    settings.database.url = args.url.clone();
    settings.server.data_dir = std::env::temp_dir();
    let pool = anshang::state::open_database(&settings).expect("database");
    let mut conn = pool.get().unwrap();
    if matches!(*conn, DbConnection::Pg(_)) {
        // Seeding only: a crash mid-seed loses a seed, not a complaint.
        diesel::sql_query("SET synchronous_commit = off").execute(&mut conn).unwrap();
    }
    let now = Utc::now();
    anshang::demo::load(&mut conn, now).expect("demo data");
    let cal = anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut conn)).unwrap();
    let rules = Rules::from_settings(&settings).unwrap();

    // The demo's 28 handling units (escalation offices take no complaints), and two more.
    for n in 1..=2 {
        let code = format!("bench-unit-{n}");
        if anshang::departments::store::find_by_code(&mut conn, &code).unwrap().is_none() {
            let draft = anshang::departments::DepartmentDraft::parse(
                &code,
                &format!("基准测试单位{n}"),
                &format!("Benchmark unit {n}"),
                anshang::departments::DepartmentKind::Department,
                &format!("{code}@demo.anshang.example"),
                &format!("{code}-head@demo.anshang.example"),
            )
            .unwrap();
            anshang::departments::store::create(&mut conn, &draft, None, now).unwrap();
        }
    }
    let departments: Vec<DepartmentId> = anshang::departments::store::list(&mut conn, false)
        .unwrap()
        .into_iter()
        .filter(|d| d.kind != "office")
        .map(|d| d.id)
        .collect();
    let drc = anshang::departments::store::find_by_code(&mut conn, "drc").unwrap().expect("demo drc").id;
    let clerk = anshang::auth::users::find_by_email(&mut conn, "department@demo.anshang.example").unwrap().unwrap();
    let coordinator =
        anshang::auth::users::find_by_email(&mut conn, "coordinator@demo.anshang.example").unwrap().unwrap();
    let office = Acting { actor: Actor::Coordinator, user_id: Some(coordinator.id.clone()), department_id: None };
    // One member per unit ("drc" has the demo's), as a department's actions are a member's.
    let mut members = std::collections::HashMap::new();
    for d in &departments {
        let email = format!("member-{}@demo.anshang.example", d.as_str());
        let user = match anshang::auth::users::find_by_email(&mut conn, &email).unwrap() {
            _ if *d == drc => clerk.clone(),
            Some(user) => user,
            None => {
                let request = anshang::auth::users::AccountRequest::parse(
                    &email,
                    "Benchmark member",
                    anshang::auth::Role::Department,
                    Some(d.clone()),
                    Some("bench-member-2026".into()),
                    10,
                )
                .unwrap();
                anshang::auth::users::create(&mut conn, &request, None, now).unwrap().0
            }
        };
        members.insert(d.clone(), user.id);
    }
    let department = |d: &DepartmentId| Acting {
        actor: Actor::Department,
        user_id: Some(members[d].clone()),
        department_id: Some(d.clone()),
    };

    let span = Duration::days(120);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut sample: Option<(String, String)> = None;
    let started = std::time::Instant::now();
    for i in 0..args.complaints {
        let filed_at = now - span + span * i as i32 / args.complaints.max(1) as i32;
        let path = path_of(i);
        let target = if path == Path::DrcOpen { drc.clone() } else { departments[i % departments.len()].clone() };
        let at = |hours: i64| filed_at + Duration::hours(hours);
        let filed = service::file(&mut conn, &rules.ctx(&cal, filed_at), &complaint(i), &Acting::investor(), None)
            .unwrap_or_else(|e| panic!("filing {i}: {e:?}"));
        let id = filed.complaint.id.clone();
        let mut steps = Steps { conn: &mut conn, rules: &rules, cal: &cal, now, id: &id, reached: 0, stopped: false };
        let clerk_of = department(&target);
        if path != Path::Unassigned {
            steps.run(at(2), |c, ctx, id| service::assign(c, ctx, id, &office, &target));
        }
        if matches!(path, Path::Paused | Path::InfoThenReplied | Path::Everything)
            || (path == Path::DrcOpen && i % 75 == 0)
        {
            steps.run(at(20), |c, ctx, id| service::request_info(c, ctx, id, &clerk_of, "请补充营业执照扫描件。"));
        }
        if matches!(path, Path::InfoThenReplied | Path::Everything) {
            steps.run(at(30), |c, ctx, id| service::answer_info(c, ctx, id, &Acting::investor(), "已上传，见附件。"));
        }
        if matches!(path, Path::ExtendedThenReplied | Path::Everything) {
            let mut request = None;
            steps.run(at(40), |c, ctx, id| {
                request = Some(service::request_extension(c, ctx, id, &clerk_of, 5, "需要现场核查。")?);
                Ok(())
            });
            if let Some(request_id) = request {
                steps.run(at(44), |c, ctx, id| {
                    let decision = ExtensionDecision {
                        request_id: &request_id,
                        approved_days: Some(5),
                        reason: "核查确有必要。",
                        investor_note: Some("部门需现场核查，答复期限延长 5 个工作日。"),
                    };
                    service::decide_extension(c, ctx, id, &office, decision)
                });
            }
        }
        if matches!(path, Path::InfoThenReplied | Path::ExtendedThenReplied | Path::Replied | Path::Everything) {
            steps.run(at(60), |c, ctx, id| {
                service::reply(c, ctx, id, &clerk_of, "已办结：许可证已于本周核发。", ReplyOutcome::Resolved)
            });
            steps.run(at(80), |c, ctx, id| {
                service::rate(c, ctx, id, &Acting::investor(), Rating::Satisfied, Some("谢谢。"))
            });
        }
        let fully = steps.reached;
        *counts.entry(format!("{path:?}")).or_default() += 1;
        if path == Path::Everything && fully == 7 && sample.is_none() {
            sample = Some((filed.complaint.tracking_number.clone(), filed.access_code.clone().expect("new filing")));
        }
        if (i + 1) % 1000 == 0 {
            eprintln!("seeded {} complaints in {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    // What a running service would have done meanwhile: the ladder's rungs taken, every queued
    // email delivered. (Otherwise the measured service would spend its first minutes on a
    // backlog no real office has.)
    let swept = anshang::escalation::sweep::sweep_once(&mut conn, &rules.ctx(&cal, now), 500).unwrap();
    let delivered = diesel::update(
        anshang::db::schema::outbox::table
            .filter(anshang::db::schema::outbox::status.eq(anshang::mail::outbox::PENDING)),
    )
    .set((
        anshang::db::schema::outbox::status.eq(anshang::mail::outbox::SENT),
        anshang::db::schema::outbox::sent_at.eq(Some(anshang::db::to_db_time(now))),
    ))
    .execute(&mut conn)
    .unwrap();
    eprintln!("swept once ({} rungs taken); {delivered} queued emails marked delivered", swept.taken.len());
    let (number, code) = sample.expect("at least one complaint took every step (use ≥ 10 complaints)");
    let drc_open: i64 = anshang::db::schema::complaints::table
        .filter(anshang::db::schema::complaints::department_id.eq(&drc))
        .filter(anshang::db::schema::complaints::closed_at.is_null())
        .count()
        .get_result(&mut conn)
        .unwrap();
    let mut out = std::fs::File::create(&args.out).unwrap();
    writeln!(out, "TRACKING_NUMBER={number}\nACCESS_CODE={code}\nDRC_OPEN={drc_open}").unwrap();
    writeln!(out, "COMPLAINTS={}\nDEPARTMENTS={}", args.complaints, departments.len()).unwrap();
    for (path, n) in &counts {
        writeln!(out, "PATH_{}={n}", path.to_uppercase()).unwrap();
    }
    eprintln!(
        "seeded {} complaints across {} departments ({drc_open} open at drc) in {:.0} s",
        args.complaints,
        departments.len(),
        started.elapsed().as_secs_f64()
    );
}

/// The steps of one complaint, each at its own instant; a step whose instant is still to come
/// (a recent filing) is skipped with all that follow it.
struct Steps<'a> {
    conn: &'a mut DbConnection,
    rules: &'a Rules,
    cal: &'a anshang::calendar::WorkingCalendar,
    now: DateTime<Utc>,
    id: &'a ComplaintId,
    /// Steps taken (skipped ones not counted).
    reached: usize,
    stopped: bool,
}

impl Steps<'_> {
    fn run<F>(&mut self, at: DateTime<Utc>, step: F)
    where
        F: FnOnce(
            &mut DbConnection,
            &anshang::complaints::context::Ctx,
            &ComplaintId,
        ) -> anshang::complaints::error::ComplaintResult<()>,
    {
        self.stopped |= at > self.now;
        if self.stopped {
            return;
        }
        step(self.conn, &self.rules.ctx(self.cal, at), self.id)
            .unwrap_or_else(|e| panic!("{}: {e:?}", self.id.as_str()));
        self.reached += 1;
    }
}

fn complaint(i: usize) -> anshang::complaints::intake::ValidComplaint {
    let lang = if i % 3 == 0 { "en" } else { "zh" };
    let request: FileComplaintRequest = serde_json::from_value(json!({
        "complainant": {
            "type": "foreign_investor", "name": format!("Investor {i}"), "company": format!("Company {} GmbH", i % 997),
            "nationality": "DE", "email": format!("investor{i}@example.de"), "phone": "+49 30 1234567", "language": lang
        },
        "project": format!("Plant {}", i % 211),
        "matter_type": "administrative_act",
        "subject": format!("施工许可审批超时（第 {i} 号项目）"),
        "facts": "我司于今年三月提交施工许可申请，材料齐全，至今未获答复，也未收到补正通知。".repeat(4),
        "request": "请在法定期限内作出决定，或书面说明延迟理由。",
        "review_or_lawsuit": false, "confidential": false
    }))
    .expect("a valid request");
    intake::validate(request, false).expect("valid")
}
