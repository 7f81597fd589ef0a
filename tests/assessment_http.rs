//! The yearly assessment: a seeded year of complaints (driven through the service at chosen
//! instants) and two published ballot rounds; scores equal hand-computed values; finalised
//! snapshots do not move; the exports are readable.

mod common;

use anshang::complaints::context;
use std::time::Duration;

use anshang::complaints::context::{Acting, Rules};
use anshang::complaints::intake::{self, FileComplaintRequest};
use anshang::complaints::model::{Rating, ReplyOutcome};
use anshang::complaints::service;
use anshang::complaints::state::Actor;
use anshang::ids::{ComplaintId, DepartmentId};
use chrono::{DateTime, Utc};
use common::{complaint_json, TestApp};
use serde_json::{json, Value};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

struct Seeder {
    pool: anshang::db::Pool,
    rules: Rules,
    cal: anshang::calendar::WorkingCalendar,
}

impl Seeder {
    fn new(app: &TestApp) -> Seeder {
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
        let cal =
            anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut pool.get().unwrap()))
                .unwrap();
        Seeder { pool, rules: Rules::from_settings(&app.settings).unwrap(), cal }
    }
    fn run<T>(&self, now: &str, f: impl FnOnce(&mut anshang::db::DbConnection, &context::Ctx) -> T) -> T {
        let ctx = self.rules.ctx(&self.cal, at(now));
        f(&mut self.pool.get().unwrap(), &ctx)
    }
    fn file(&self, now: &str) -> ComplaintId {
        self.run(now, |c, ctx| {
            let req: FileComplaintRequest = serde_json::from_value(complaint_json("en")).unwrap();
            service::file(c, ctx, &intake::validate(req, false).unwrap(), &Acting::investor(), None)
                .unwrap()
                .complaint
                .id
        })
    }
    fn assign(&self, now: &str, id: &ComplaintId, dept: &str) {
        self.run(now, |c, ctx| service::assign(c, ctx, id, &coordinator(), &DepartmentId::new(dept)).unwrap())
    }
    fn reassign(&self, now: &str, id: &ComplaintId, dept: &str) {
        self.run(now, |c, ctx| {
            service::reassign(c, ctx, id, &coordinator(), &DepartmentId::new(dept), "moved").unwrap()
        })
    }
    fn reply(&self, now: &str, id: &ComplaintId, dept: &str) {
        self.run(now, |c, ctx| {
            service::reply(c, ctx, id, &department(dept), "answered", ReplyOutcome::Resolved).unwrap()
        })
    }
    fn rate(&self, now: &str, id: &ComplaintId, r: Rating) {
        self.run(now, |c, ctx| service::rate(c, ctx, id, &Acting::investor(), r, None).unwrap())
    }
    fn contest(&self, now: &str, id: &ComplaintId) {
        self.run(now, |c, ctx| service::contest(c, ctx, id, &Acting::investor(), "not answered").unwrap())
    }
}

fn coordinator() -> Acting {
    Acting { actor: Actor::Coordinator, user_id: None, department_id: None }
}

fn department(dept: &str) -> Acting {
    Acting { actor: Actor::Department, user_id: None, department_id: Some(DepartmentId::new(dept)) }
}

/// A published round over `departments`: each voter rates the listed departments with one
/// answer for every question.
fn published_round(app: &TestApp, commission: &str, departments: &[(&str, &str)], votes: &[Vec<(&str, &str)>]) {
    let now = Utc::now();
    let ids: Vec<&str> = departments.iter().map(|d| d.1).collect();
    let r = app.post(
        "/api/v1/ballots/rounds",
        Some(commission),
        &json!({"title": "round", "year": 2026, "department_ids": ids, "min_group_size": 5,
                "opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(), "closes_at": (now + chrono::Duration::hours(1)).to_rfc3339()}),
    );
    let round = r.json()["id"].as_str().unwrap().to_string();
    let mut csv = String::from("name,category,contact,departments\n");
    for (i, v) in votes.iter().enumerate() {
        let codes: Vec<&str> = v.iter().map(|(code, _)| *code).collect();
        csv.push_str(&format!("V{i},enterprise_served,paper,{}\n", codes.join(";")));
    }
    let imported = app.request(
        "POST",
        &format!("/api/v1/ballots/rounds/{round}/voters"),
        Some(commission),
        &[],
        Some(("text/csv", csv.into_bytes())),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    let letters = app.post(&format!("/api/v1/ballots/rounds/{round}/issue-codes"), Some(commission), &json!({})).json()
        ["letters"]
        .as_array()
        .unwrap()
        .clone();
    let shares = app.post(&format!("/api/v1/ballots/rounds/{round}/open"), Some(commission), &json!({})).json()
        ["key_shares"]
        .clone();
    // Letters come back sorted by name: V0, V1, … match `votes` in order.
    for (letter, v) in letters.iter().zip(votes) {
        let ratings: Vec<Value> = v
            .iter()
            .map(|(code, answer)| {
                let id = departments.iter().find(|d| d.0 == *code).unwrap().1;
                let a: serde_json::Map<String, Value> = ["overall", "efficiency", "attitude", "integrity"]
                    .iter()
                    .map(|q| (q.to_string(), json!(answer)))
                    .collect();
                json!({"department_id": id, "answers": a})
            })
            .collect();
        let cast = app.post(
            &format!("/api/v1/ballots/{round}/cast"),
            None,
            &json!({"code": letter["code"], "ratings": ratings}),
        );
        assert_eq!(cast.status, 201, "{}", cast.body);
    }
    app.post(&format!("/api/v1/ballots/rounds/{round}/close"), Some(commission), &json!({}));
    assert_eq!(
        app.post(&format!("/api/v1/ballots/rounds/{round}/unseal"), Some(commission), &json!({"key_shares": shares}))
            .status,
        200
    );
    assert_eq!(app.post(&format!("/api/v1/ballots/rounds/{round}/publish"), Some(commission), &json!({})).status, 200);
}

fn dept<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["departments"].as_array().unwrap().iter().find(|d| d["department_id"] == id).unwrap()
}

#[test]
fn scores_equal_hand_computed_values_and_finalised_snapshots_do_not_move() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let admin = app.admin_token();
    let commission = app.staff_token(&admin, "commission", None);
    let (a, b, c) =
        (app.create_department(&admin, "aa"), app.create_department(&admin, "bb"), app.create_department(&admin, "cc"));
    let e = app.create_department(&admin, "ee");
    let s = Seeder::new(&app);

    // C1: A replies on time; satisfied.
    let c1 = s.file("2026-03-02T10:00:00+08:00");
    s.assign("2026-03-02T11:00:00+08:00", &c1, &a);
    s.reply("2026-03-04T10:00:00+08:00", &c1, &a);
    s.rate("2026-03-05T10:00:00+08:00", &c1, Rating::Satisfied);
    // C2: A replies late (due 2026-03-11); dissatisfied.
    let c2 = s.file("2026-03-02T10:00:00+08:00");
    s.assign("2026-03-02T11:00:00+08:00", &c2, &a);
    s.reply("2026-03-20T10:00:00+08:00", &c2, &a);
    s.rate("2026-03-21T10:00:00+08:00", &c2, Rating::Dissatisfied);
    // C3: A replies on time; contested; B re-handles on time; satisfied.
    let c3 = s.file("2026-03-02T10:00:00+08:00");
    s.assign("2026-03-02T11:00:00+08:00", &c3, &a);
    s.reply("2026-03-05T10:00:00+08:00", &c3, &a);
    s.contest("2026-03-06T10:00:00+08:00", &c3);
    s.assign("2026-03-06T11:00:00+08:00", &c3, &b);
    s.reply("2026-03-09T10:00:00+08:00", &c3, &b);
    s.rate("2026-03-10T10:00:00+08:00", &c3, Rating::Satisfied);
    // C4: A, then B before the breach; never answered; escalated.
    let c4 = s.file("2026-04-01T10:00:00+08:00");
    s.assign("2026-04-01T11:00:00+08:00", &c4, &a);
    s.reassign("2026-04-03T11:00:00+08:00", &c4, &b);
    s.run("2026-06-01T10:00:00+08:00", |conn, ctx| anshang::escalation::sweep::sweep_once(conn, ctx, 100).unwrap());

    // Round 1: five voters rate A (S,S,S,B,D → 80) and B (all S → 100).
    published_round(
        &app,
        &commission,
        &[("aa", &a), ("bb", &b)],
        &[
            vec![("aa", "satisfied"), ("bb", "satisfied")],
            vec![("aa", "satisfied"), ("bb", "satisfied")],
            vec![("aa", "satisfied"), ("bb", "satisfied")],
            vec![("aa", "basically_satisfied"), ("bb", "satisfied")],
            vec![("aa", "dissatisfied"), ("bb", "satisfied")],
        ],
    );
    // Round 2: six rate A (S,S,B,B,D,N → 74 over 5 valid); only three rate B (suppressed);
    // five rate E, four of them "not enough contact": one valid vote (suppressed).
    published_round(
        &app,
        &commission,
        &[("aa", &a), ("bb", &b), ("ee", &e)],
        &[
            vec![("aa", "satisfied"), ("bb", "dissatisfied"), ("ee", "satisfied")],
            vec![("aa", "satisfied"), ("bb", "dissatisfied"), ("ee", "not_enough_contact")],
            vec![("aa", "basically_satisfied"), ("bb", "dissatisfied"), ("ee", "not_enough_contact")],
            vec![("aa", "basically_satisfied"), ("ee", "not_enough_contact")],
            vec![("aa", "dissatisfied"), ("ee", "not_enough_contact")],
            vec![("aa", "not_enough_contact")],
        ],
    );

    let r = app.get("/api/v1/assessment/2026", Some(&commission));
    assert_eq!(r.status, 200, "{}", r.body);
    let report = r.json();
    assert_eq!(report["finalized"], false);
    // A: conduct weighted by valid ballots: (80×5 + 74×5)/10 = 77 → 7.70 points. Complaints: on
    // time 2/3, satisfied 1/2, uncontested 2/3: 5 × (0.5·⅔ + 0.3·½ + 0.2·⅔) = 3.0833, − 1 late
    // × 0.5 = 2.58.
    let da = dept(&report, &a);
    assert_eq!(da["conduct_index"], 77.0);
    assert_eq!(da["conduct"], 7.7);
    assert_eq!(da["complaint_handling"], 2.58);
    assert_eq!(da["total"], 10.28);
    assert_eq!(da["on_time_rate"], 66.67);
    assert_eq!(da["complaints"]["late"], json!([anshang_number(&app, &c2)]));
    assert_eq!(da["rounds"].as_array().unwrap().len(), 2);
    // B: conduct from round 1 only (round 2 suppressed): 100 → 10. Complaints: C3's second
    // clock on time and satisfied, C4 overdue (held at the breach) and escalated:
    // 5 × (0.5·½ + 0.3·1 + 0.2·1) = 3.75, − 0.5 − 1.0 = 2.25.
    let db = dept(&report, &b);
    assert_eq!(db["conduct"], 10.0);
    assert_eq!(db["complaint_handling"], 2.25);
    assert_eq!(db["total"], 12.25);
    assert_eq!(db["complaints"]["escalated"], json!([anshang_number(&app, &c4)]));
    assert_eq!(db["rounds"].as_array().unwrap().len(), 1);
    // C: no ballots, no complaints; E: one valid vote among five ballots. Neither has a
    // conduct score, a total or a rank, and neither outranks a rated department or reaches a list.
    for unrated in [dept(&report, &c), dept(&report, &e)] {
        assert_eq!(
            (unrated["conduct"].clone(), unrated["total"].clone(), unrated["rank"].clone()),
            (Value::Null, Value::Null, Value::Null),
            "{unrated}"
        );
        assert_eq!(unrated["complaint_handling"], 5.0);
        assert_eq!(unrated["note"], "not enough valid votes / 有效票数不足");
    }
    assert_eq!((db["rank"].as_u64(), da["rank"].as_u64()), (Some(1), Some(2)));
    assert_eq!((report["red_list"].clone(), report["black_list"].clone()), (json!([b]), json!([a])));
    let ranked: Vec<&str> =
        report["departments"].as_array().unwrap().iter().map(|d| d["department_id"].as_str().unwrap()).collect();
    assert_eq!(ranked[..2], [b.as_str(), a.as_str()], "rated departments first");
    assert!(da["terms"].as_array().unwrap().iter().any(|t| t["name"] == "deductions" && t["value"] == -0.5));
    // The monthly trend: March has C1, C2, C3 and C3's second clock (3 of 4 on time); April C4 (overdue).
    assert_eq!(report["trend"][2], json!({"month": "2026-03", "clocks": 4, "on_time_rate": 75.0}));
    assert_eq!(report["trend"][3], json!({"month": "2026-04", "clocks": 1, "on_time_rate": 0.0}));

    // Finalise; a complaint breached later in the year does not move the snapshot.
    let f = app.post("/api/v1/assessment/2026/finalize", Some(&commission), &json!({}));
    assert_eq!(f.status, 200, "{}", f.body);
    let c5 = s.file("2026-05-04T10:00:00+08:00");
    s.assign("2026-05-04T11:00:00+08:00", &c5, &a);
    let after = app.get("/api/v1/assessment/2026", Some(&commission)).json();
    assert_eq!(after["finalized"], true);
    assert_eq!(dept(&after, &a)["total"], 10.28);
    app.post("/api/v1/assessment/2026/finalize", Some(&commission), &json!({}))
        .assert_problem(409, "already-finalized");
    let again = app
        .post("/api/v1/assessment/2026/finalize", Some(&commission), &json!({"reason": "late data after review"}))
        .json();
    assert_eq!(again["version"], 2);
    assert!(dept(&again, &a)["total"].as_f64().unwrap() < 10.28, "the new version sees the late complaint");
    // B's record gets worse after version 2 (a complaint left overdue), A's improves (the
    // late complaint answered): a review of A changes A's score only.
    let c6 = s.file("2026-06-01T10:00:00+08:00");
    s.assign("2026-06-01T11:00:00+08:00", &c6, &b);
    s.reply("2026-11-20T10:00:00+08:00", &c5, &a);

    // Who may see what.
    let staff_a = app.staff_token(&admin, "department", Some(&a));
    // Review (复核): A asks within 15 working days of publication; the commission decides.
    let review = app.post(
        "/api/v1/assessment/2026/reviews",
        Some(&staff_a),
        &json!({"reasons": "C2 was late because the investor's papers were missing"}),
    );
    assert_eq!(review.status, 201, "{}", review.body);
    let rv = review.json();
    assert_eq!(rv["decision_overdue"], false);
    assert!(rv["decision_due_at"].as_str().unwrap() > rv["requested_at"].as_str().unwrap());
    app.post("/api/v1/assessment/2026/reviews", Some(&staff_a), &json!({"reasons": "again"}))
        .assert_problem(409, "conflict");
    app.post(
        &format!("/api/v1/assessment/2026/reviews/{}/decision", rv["id"].as_str().unwrap()),
        Some(&staff_a),
        &json!({"changed": true, "reason": "x"}),
    )
    .assert_problem(403, "forbidden");
    let decided = app.post(
        &format!("/api/v1/assessment/2026/reviews/{}/decision", rv["id"].as_str().unwrap()),
        Some(&commission),
        &json!({"changed": true, "reason": "recomputed with corrected data"}),
    );
    assert_eq!(decided.status, 200, "{}", decided.body);
    assert_eq!(decided.json()["new_version"], 3);
    let v3 = app.get("/api/v1/assessment/2026", Some(&commission)).json();
    assert_eq!(v3["version"], 3);
    assert!(v3["reason"].as_str().unwrap().contains("recomputed with corrected data"));
    for other in [&b, &c, &e] {
        assert_eq!(dept(&v3, other), dept(&again, other), "only the reviewed department's score changes");
    }
    assert_ne!(
        dept(&v3, &a)["complaint_handling"],
        dept(&again, &a)["complaint_handling"],
        "the reviewed department is recomputed"
    );
    let live_b = {
        // What B would score today: worse than its finalised score, which the review left alone.
        let mut conn = s.pool.get().unwrap();
        let formula = app.settings.assessment.clone();
        anshang::assessment::report::compute(&mut conn, &s.cal, &formula, 2026, Utc::now())
            .unwrap()
            .departments
            .into_iter()
            .find(|d| d.score.department_id == b)
            .unwrap()
    };
    assert!(live_b.score.complaint_handling < dept(&v3, &b)["complaint_handling"].as_f64().unwrap());
    assert_eq!(app.get("/api/v1/assessment/2026/reviews", Some(&staff_a)).json().as_array().unwrap().len(), 1);
    app.get("/api/v1/assessment/2026", Some(&staff_a)).assert_problem(403, "forbidden");
    assert_eq!(app.get(&format!("/api/v1/assessment/2026/departments/{a}"), Some(&staff_a)).status, 200);
    app.get(&format!("/api/v1/assessment/2026/departments/{b}"), Some(&staff_a)).assert_problem(403, "forbidden");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    app.post("/api/v1/assessment/2026/finalize", Some(&coordinator), &json!({"reason": "x"}))
        .assert_problem(403, "forbidden");

    // The monthly ranking for March and the bi-monthly report for March–April.
    let m = app.get("/api/v1/reports/monthly?month=2026-03", Some(&coordinator));
    assert_eq!(m.status, 200, "{}", m.body);
    let m = m.json();
    let row = |id: &str| m["rows"].as_array().unwrap().iter().find(|r| r["department_id"] == id).unwrap().clone();
    let (ra, rb) = (row(&a), row(&b));
    assert_eq!(
        (ra["received"].as_u64(), ra["replied"].as_u64(), ra["replied_on_time"].as_u64(), ra["contests"].as_u64()),
        (Some(3), Some(3), Some(2), Some(1))
    );
    // Working days to reply: C1 2, C2 14, C3 3 → 6.33.
    assert_eq!(ra["average_working_days_to_reply"], 6.33);
    assert_eq!(ra["satisfaction_rate"], 50.0);
    assert_eq!(
        (rb["received"].as_u64(), rb["replied_on_time"].as_u64(), rb["overdue_now"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    app.get("/api/v1/reports/monthly?month=March", Some(&coordinator)).assert_problem(422, "invalid-field");
    app.get("/api/v1/reports/monthly?month=5678-07", Some(&coordinator)).assert_problem(422, "invalid-field");
    app.get("/api/v1/reports/bimonthly?from=1999-01", Some(&coordinator)).assert_problem(422, "invalid-field");
    let bi = app.get("/api/v1/reports/bimonthly?from=2026-03", Some(&coordinator)).json();
    assert_eq!(
        (
            bi["received"].as_u64(),
            bi["accepted"].as_u64(),
            bi["concluded"].as_u64(),
            bi["in_progress"].as_u64(),
            bi["overdue"].as_u64()
        ),
        (Some(4), Some(4), Some(3), Some(1), Some(1))
    );
    let bi_csv = app.get("/api/v1/reports/bimonthly?from=2026-03&format=csv", Some(&coordinator));
    assert!(bi_csv.body.starts_with('\u{feff}') && bi_csv.body.contains("收到 received"));
    app.get("/api/v1/reports/bimonthly?from=2026-03", Some(&staff_a)).assert_problem(403, "forbidden");

    // Exports: CSV with a BOM and Chinese headers; HTML with charts; the CLI writes the same.
    let csv = app.get("/api/v1/assessment/2026?format=csv", Some(&coordinator));
    assert!(csv.body.starts_with('\u{feff}'), "BOM");
    assert!(csv.body.contains("排名 rank") && csv.body.contains("部门aa"));
    let out = app.data_dir.path().join("report.html");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_anshang"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["report", "assessment", "--year", "2026", "--format", "html", "--out", out.to_str().unwrap()])
        .env("ANSHANG__DATABASE__URL", &app.database.url)
        .status()
        .unwrap();
    assert!(status.success());
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("<svg") && html.contains("<polyline") && html.contains("部门aa") && html.contains("@page"),
        "{}",
        &html[..300.min(html.len())]
    );
    assert!(!html.contains("<script"));
}

fn anshang_number(app: &TestApp, id: &ComplaintId) -> String {
    let admin = app.admin_token();
    let coordinator = app.staff_token(&admin, "coordinator", None);
    app.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)).json()["tracking_number"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_on_time_edge_is_the_last_second_of_the_due_date_and_pauses_count_for_the_department() {
    let app = common::spawn_app();
    let admin = app.admin_token();
    let a = app.create_department(&admin, "aa");
    let s = Seeder::new(&app);
    // Received Monday 2026-03-02: due Wednesday 2026-03-11 (24:00).
    let in_time = s.file("2026-03-02T10:00:00+08:00");
    s.assign("2026-03-02T11:00:00+08:00", &in_time, &a);
    s.reply("2026-03-11T23:59:59+08:00", &in_time, &a);
    let too_late = s.file("2026-03-02T10:00:00+08:00");
    s.assign("2026-03-02T11:00:00+08:00", &too_late, &a);
    s.reply("2026-03-12T00:00:00+08:00", &too_late, &a);
    // Paused Tuesday 03-03 → answered Friday 03-06: three working days (04, 05, 06) do not
    // count, so a reply on 03-16 (due 03-16 after the pause) is on time.
    let paused = s.file("2026-03-02T10:00:00+08:00");
    s.assign("2026-03-02T11:00:00+08:00", &paused, &a);
    s.run("2026-03-03T10:00:00+08:00", |c, ctx| {
        service::request_info(c, ctx, &paused, &department(&a), "papers?").unwrap()
    });
    s.run("2026-03-06T10:00:00+08:00", |c, ctx| {
        service::answer_info(c, ctx, &paused, &Acting::investor(), "here").unwrap()
    });
    s.reply("2026-03-16T18:00:00+08:00", &paused, &a);
    let records = s.run("2026-11-25T10:00:00+08:00", |c, ctx| {
        anshang::assessment::gather::clock_records(
            c,
            ctx.cal,
            "2026-03-01".parse().unwrap(),
            "2026-04-01".parse().unwrap(),
            ctx.now,
        )
        .unwrap()
    });
    let outcome = |id: &ComplaintId| {
        let n = anshang_number(&app, id);
        records.iter().find(|r| r.tracking_number == n).unwrap().outcome
    };
    use anshang::assessment::score::ClockOutcome;
    assert_eq!(outcome(&in_time), ClockOutcome::OnTime);
    assert_eq!(outcome(&too_late), ClockOutcome::Late);
    assert_eq!(outcome(&paused), ClockOutcome::OnTime);
}

#[test]
fn csv_exports_neutralise_formulas_and_name_their_files() {
    let app = common::spawn_app();
    let admin = app.admin_token();
    let r = app.post(
        "/api/v1/departments",
        Some(&admin),
        &json!({"code": "evil", "name_zh": "@SUM(1+1)", "name_en": "=HYPERLINK(\"http://attacker.example\",\"x\")", "kind": "department",
                "contact_email": "evil@example.gov.cn", "head_email": "evil-head@example.gov.cn"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en"));
    assert_eq!(filed.status, 201, "{}", filed.body);
    let filed = filed.json();
    let (number, code) = (filed["tracking_number"].as_str().unwrap(), filed["access_code"].as_str().unwrap());
    let withdrawn = app.request(
        "POST",
        &format!("/api/v1/track/{number}/withdraw"),
        None,
        &[("X-Access-Code", code)],
        Some(("application/json", json!({"reason": "=cmd|' /C calc'!A0"}).to_string().into_bytes())),
    );
    assert!(withdrawn.status < 300, "{}", withdrawn.body);

    let coordinator = app.staff_token(&admin, "coordinator", None);
    let month = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m").to_string();
    let bi = app.get(&format!("/api/v1/reports/bimonthly?from={month}&format=csv"), Some(&coordinator));
    assert_eq!(bi.status, 200, "{}", bi.body);
    assert!(bi.body.contains("'=cmd|"), "{}", bi.body);
    assert!(!bi.body.lines().any(|l| l.split(',').any(|cell| cell.trim_matches('"').starts_with('='))), "{}", bi.body);
    assert_eq!(
        bi.header("content-disposition"),
        Some(format!("attachment; filename=\"bimonthly-{month}.csv\"").as_str())
    );

    let year = &month[..4];
    let csv = app.get(&format!("/api/v1/assessment/{year}?format=csv"), Some(&coordinator));
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert!(csv.body.contains("'=HYPERLINK") && csv.body.contains("'@SUM(1+1)"), "{}", csv.body);
    assert!(!csv.body.contains(",=HYPERLINK") && !csv.body.contains(",\"=HYPERLINK"), "{}", csv.body);
    assert_eq!(
        csv.header("content-disposition"),
        Some(format!("attachment; filename=\"assessment-{year}.csv\"").as_str())
    );
}

/// The escalation deduction follows the ladder's `counts_as_escalation` flag, recorded when the
/// rung is taken — not a step's name: here the flag sits on the "overdue" rung instead.
#[test]
fn the_escalation_deduction_follows_the_rung_flag_not_the_step_name() {
    let app = common::spawn_app_with(|s| {
        for rung in &mut s.escalation.reply {
            rung.counts_as_escalation = rung.step == "overdue";
        }
    });
    let admin = app.admin_token();
    let a = app.create_department(&admin, "flag");
    let s = Seeder::new(&app);
    let late = s.file("2026-04-01T10:00:00+08:00");
    s.assign("2026-04-01T11:00:00+08:00", &late, &a);
    // Just past the breach: "overdue" is taken, "overdue_escalated" (three working days later) not yet.
    s.run("2026-04-15T10:00:00+08:00", |conn, ctx| anshang::escalation::sweep::sweep_once(conn, ctx, 100).unwrap());
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Text)]
        step: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        counts_as_escalation: bool,
    }
    let taken: Vec<Taken> = {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT step, counts_as_escalation FROM clock_escalations ORDER BY taken_at, step")
            .load(&mut *s.pool.get().unwrap())
            .unwrap()
    };
    let flagged: Vec<&str> = taken.iter().filter(|t| t.counts_as_escalation).map(|t| t.step.as_str()).collect();
    assert_eq!(flagged, ["overdue"], "{taken:?}");
    assert!(!taken.iter().any(|t| t.step == "overdue_escalated"), "{taken:?}");
    let commission = app.staff_token(&admin, "commission", None);
    let r = app.get("/api/v1/assessment/2026", Some(&commission));
    assert_eq!(r.status, 200, "{}", r.body);
    let report = r.json();
    assert_eq!(dept(&report, &a)["complaints"]["escalated"], json!([anshang_number(&app, &late)]), "{report}");
}
