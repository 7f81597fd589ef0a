//! The calendar as users reach it: the CLI's deadline answers, the public API, and an
//! administrator loading an official year that clears provisional deadlines without a restart.

mod common;

use anshang::calendar::{CalendarYear, OffDay};
use anshang::complaints::context::{Acting, Rules};
use anshang::complaints::intake::{self, FileComplaintRequest};
use anshang::complaints::service;
use common::spawn_app;
use serde_json::Value;

fn cli(args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::anshang_command(dir.path());
    cmd.args(args);
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_due_answers_the_named_cases_one_line_per_input_in_order() {
    let (ok, out, err) = cli(&[
        "calendar",
        "due",
        "--json",
        "2024-02-04T10:00:00+08:00",
        "2026-09-30T17:00:00+08:00",
        "2021-12-31T16:00:00Z",
    ]);
    assert!(ok, "{err}");
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["due_date"], "2024-02-19");
    assert_eq!(lines[1]["due_date"], "2026-10-15");
    assert_eq!(lines[1]["due_at"], "2026-10-16T00:00:00+08:00");
    // 16:00 UTC on 31 December is 00:00 on 1 January in Shanghai: received in 2022.
    assert_eq!(lines[2]["received"], "2022-01-01T00:00:00+08:00");
    let direct = cli(&["calendar", "due", "--json", "2022-01-01T00:00:00+08:00"]).1;
    assert_eq!(serde_json::from_str::<Value>(direct.trim()).unwrap()["due_date"], lines[2]["due_date"]);
    for l in &lines {
        assert_eq!(l["provisional"], false);
    }
    // Plain output and a bad instant.
    let (ok, out, _) = cli(&["calendar", "due", "2024-02-04T10:00:00+08:00"]);
    assert!(ok && out.contains("due 2024-02-19"), "{out}");
    let (ok, _, err) = cli(&["calendar", "due", "2024-02-04 10:00"]);
    assert!(!ok && err.contains("RFC 3339"), "{err}");
}

#[test]
fn cli_flags_provisional_years_and_checks_the_data() {
    let (ok, out, _) = cli(&["calendar", "due", "--json", "2026-12-28T10:00:00+08:00"]);
    assert!(ok);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["provisional"], true);
    assert!(v["due_date"].as_str().unwrap().starts_with("2027-01-"));
    let (ok, out, err) = cli(&["calendar", "check"]);
    assert!(ok, "{err}");
    assert!(out.contains("calendar data valid: 10 shipped years"), "{out}");
    let (ok, out, _) = cli(&["calendar", "explain", "2024-02-04T10:00:00+08:00"]);
    assert!(ok);
    assert!(out.contains("skipped: holiday: Spring Festival / 春节"), "{out}");
    assert!(out.contains("make-up workday"), "2024-02-18 (Sunday) is a make-up workday: {out}");
    let (ok, out, _) = cli(&["calendar", "show", "2027"]);
    assert!(ok && out.contains("PROVISIONAL"), "{out}");
}

#[test]
fn http_due_matches_the_cli_and_explains() {
    let app = spawn_app();
    let r = app.get("/api/v1/calendar/due?received=2026-09-30T17:00:00%2B08:00", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["due_date"], "2026-10-15");
    let days = v["explanation"]["days"].as_array().unwrap();
    assert!(days.iter().any(|d| d["reason"]["kind"] == "holiday" && d["reason"]["name_zh"] == "国庆节"));
    assert_eq!(days.iter().filter(|d| d["counted"] == true).count(), 7);
    let r = app.get("/api/v1/calendar/due?received=2026-09-30&days=7", None);
    assert_eq!(r.assert_problem(422, "invalid-field")["errors"][0]["field"], "received");
    app.get("/api/v1/calendar/due?received=2026-09-30T17:00:00Z&days=0", None).assert_problem(422, "invalid-field");
    let year = app.get("/api/v1/calendar/2024", None).json();
    assert_eq!(year["provisional"], false);
    let makeup: Vec<&str> =
        year["data"]["makeup_workday"].as_array().unwrap().iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert!(makeup.contains(&"2024-02-18"), "{makeup:?}");
}

/// The 2027 official data as a test stand-in: the law's days plus 元旦 spanning 1–4 January.
fn official_2027() -> CalendarYear {
    let mut year = CalendarYear::provisional(2027).unwrap();
    year.provisional = false;
    year.notice.title = "国务院办公厅关于2027年部分节假日安排的通知（测试数据）".into();
    year.notice.title_en = "2027 holiday arrangements (test data)".into();
    for day in 2..=4 {
        let date = chrono::NaiveDate::from_ymd_opt(2027, 1, day).unwrap();
        if !year.off_days.iter().any(|d| d.date == date) {
            year.off_days.push(OffDay { date, name_zh: "元旦".into(), name_en: "New Year's Day".into() });
        }
    }
    year.off_days.sort_by_key(|d| d.date);
    year.validate().unwrap();
    year
}

#[test]
fn loading_the_official_year_clears_provisional_and_recomputes_open_clocks() {
    let app = spawn_app();
    // /readyz warns while 2027 has no official notice.
    let ready = app.get("/readyz", None).json();
    assert!(
        ready["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().starts_with("calendar: provisional for 2027")),
        "{ready}"
    );

    // A complaint received on Monday 2026-12-28 (filed through the service with that instant).
    let id = {
        let pool = anshang::db::connect_pool(
            &anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap(),
            2,
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let mut conn = pool.get().unwrap();
        let cal = anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut conn)).unwrap();
        let rules = Rules::from_settings(&app.settings).unwrap();
        let received = chrono::DateTime::parse_from_rfc3339("2026-12-28T10:00:00+08:00").unwrap().to_utc();
        let request: FileComplaintRequest = serde_json::from_value(common::complaint_json("en")).unwrap();
        let valid = intake::validate(request, false).unwrap();
        service::file(&mut conn, &rules.ctx(&cal, received), &valid, &Acting::investor(), None).unwrap().complaint.id
    };
    let admin = app.admin_token();
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let before = app.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)).json();
    assert_eq!(before["clock"]["due_date"], "2027-01-07", "{}", before["clock"]);
    assert_eq!(before["clock"]["provisional"], true);
    let skipped_new_year = before["clock"]["explanation"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["date"] == "2027-01-01" && d["counted"] == false && d["reason"]["name_zh"] == "元旦");
    assert!(skipped_new_year);

    // Only an administrator may load a year; bad data is refused with the rule named.
    let toml = official_2027().to_toml_string();
    app.put("/api/v1/calendar/2027", Some(&coordinator), "application/toml", toml.clone().into_bytes())
        .assert_problem(403, "forbidden");
    let bad = toml.replace("2027-01-04", "2027-01-09");
    let v = app
        .put("/api/v1/calendar/2027", Some(&admin), "application/toml", bad.into_bytes())
        .assert_problem(422, "invalid-field");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("2027"), "{v}");
    app.put("/api/v1/calendar/2026", Some(&admin), "application/toml", toml.clone().into_bytes())
        .assert_problem(422, "invalid-field");

    let r = app.put("/api/v1/calendar/2027", Some(&admin), "application/toml", toml.into_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["clocks_recomputed"], 1);

    let after = app.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)).json();
    assert_eq!(after["clock"]["due_date"], "2027-01-08", "4 January is now off");
    assert_eq!(after["clock"]["provisional"], false);
    let events = app.get(&format!("/api/v1/complaints/{id}/events"), Some(&coordinator)).json();
    let recomputed = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "calendar_recomputed")
        .expect("recompute audited");
    assert_eq!(recomputed["detail"]["previous_due_date"], "2027-01-07");
    assert_eq!(events["chain_valid"], true);
    assert_eq!(app.get("/api/v1/calendar/2027", None).json()["provisional"], false);
    let ready = app.get("/readyz", None).json();
    assert!(!ready["warnings"].to_string().contains("2027"), "{ready}");
}
