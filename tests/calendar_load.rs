//! The official calendar of a year replaces the provisional one: deadlines filed in late
//! December that run into it move, and the people given the old date are told — once, in their
//! language, with the dry run reporting the same moves beforehand.

mod common;

use anshang::calendar::{CalendarYear, OffDay};
use anshang::complaints::service;
use common::smtp::ReceivedMail;
use common::world::World;
use serde_json::Value;

/// The official 2027 as the law-derived provisional one, with New Year taken as a four-day span
/// to Monday 2027-01-04 (weekend included), a bridge day no law predicts.
fn official_2027(w: &World) -> CalendarYear {
    let mut year = w.cal.year(2027).cloned().expect("2027 is covered provisionally");
    assert!(year.provisional, "2027 has no official data in config/calendar");
    year.provisional = false;
    year.notice.title = "国务院办公厅关于2027年部分节假日安排的通知".into();
    year.notice.title_en =
        "Notice of the General Office of the State Council on the arrangement of public holidays in 2027".into();
    for day in ["2027-01-02", "2027-01-03", "2027-01-04"] {
        let date = day.parse().unwrap();
        if !year.off_days.iter().any(|d| d.date == date) {
            year.off_days.push(OffDay { date, name_zh: "元旦".into(), name_en: "New Year's Day".into() });
        }
    }
    year.off_days.sort_by_key(|d| d.date);
    year
}

fn about<'a>(got: &'a [ReceivedMail], number: &str) -> Vec<&'a ReceivedMail> {
    got.iter().filter(|m| m.subject().is_some_and(|s| s.contains(number))).collect()
}

#[test]
fn loading_the_official_year_moves_deadlines_and_tells_investors_and_departments_once() {
    let w = World::new();
    let office = World::coordinator();
    // P (en) and Q (zh) run into 2027; R (en) ends in 2026 and does not move; S is unassigned.
    let (p_id, p, p_code) = w.file_with_code("2026-12-24T10:00:00+08:00", "en");
    let (q_id, q) = w.file("2026-12-28T10:00:00+08:00", "zh");
    let (r_id, r) = w.file("2026-12-01T10:00:00+08:00", "en");
    let (s_id, s) = w.file("2026-12-29T10:00:00+08:00", "en");
    for id in [&p_id, &q_id, &r_id] {
        w.act("2026-12-29T11:00:00+08:00", |c, x| service::assign(c, x, id, &office, &w.land));
    }
    let before = |id: &anshang::ids::ComplaintId| w.complaint(id)["clock"].clone();
    let (p_before, q_before, r_before, s_before) = (before(&p_id), before(&q_id), before(&r_id), before(&s_id));
    assert_eq!(p_before["due_date"], "2027-01-05", "P: 12-25, 28, 29, 30, 31, [01-01 off], 01-04, 01-05");
    assert_eq!(p_before["provisional"], true);
    w.step("2026-12-29T12:00:00+08:00"); // receipts and assignments

    let year = official_2027(&w);
    let toml = year.to_toml_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cn-2027.toml");
    std::fs::write(&file, &toml).unwrap();

    // The dry run (API and CLI) reports the moves and changes nothing.
    let admin = &w.admin;
    let dry =
        w.app.put("/api/v1/calendar/2027?dry_run=true", Some(admin), "application/toml", toml.clone().into_bytes());
    assert_eq!(dry.status, 200, "{}", dry.body);
    let dry = dry.json();
    assert_eq!(dry["dry_run"], true);
    let moved: Vec<&Value> = dry["moved"].as_array().unwrap().iter().filter(|m| m["clock"] == "reply").collect();
    let numbers: Vec<&str> = moved.iter().map(|m| m["tracking_number"].as_str().unwrap()).collect();
    assert_eq!(numbers, [p.as_str(), q.as_str(), s.as_str()], "{dry}");
    assert!(moved[0]["previous_due_at"].as_str().unwrap().starts_with("2027-01-06T00:00:00+08:00"), "{dry}");
    assert!(moved[0]["due_at"].as_str().unwrap().starts_with("2027-01-07T00:00:00+08:00"), "{dry}");
    assert!(moved[0]["department"]["name_zh"].as_str().is_some());
    assert!(moved[2]["department"].is_null(), "S is with the coordination office");
    let printed = w.cli(&["calendar", "load", file.to_str().unwrap(), "--dry-run"]);
    assert!(
        printed.contains(&p) && printed.contains("2027-01-06 00:00 -> 2027-01-07 00:00") && printed.contains("dry run"),
        "{printed}"
    );
    assert_eq!(before(&p_id)["due_date"], "2027-01-05", "a dry run changes nothing");
    let (_, got) = w.step("2026-12-29T13:00:00+08:00");
    assert!(got.is_empty(), "a dry run tells nobody: {got:?}");

    // The real load: the same moves in its answer, events, and notices.
    let loaded = w.app.put("/api/v1/calendar/2027", Some(admin), "application/toml", toml.clone().into_bytes());
    assert_eq!(loaded.status, 200, "{}", loaded.body);
    let loaded = loaded.json();
    assert_eq!(loaded["dry_run"], false);
    assert_eq!(loaded["moved"], dry["moved"], "the load did what its dry run said");
    assert_eq!(before(&p_id)["due_date"], "2027-01-06");
    assert_eq!(before(&p_id)["provisional"], false);
    assert_eq!(
        (&before(&r_id)["due_at"], &before(&r_id)["provisional"]),
        (&r_before["due_at"], &r_before["provisional"]),
        "R does not move"
    );
    assert_ne!(before(&q_id)["due_date"], q_before["due_date"]);
    assert_ne!(before(&s_id)["due_date"], s_before["due_date"]);
    let events = w.app.get(&format!("/api/v1/complaints/{p_id}/events"), Some(&w.coordinator)).json();
    let recomputed: Vec<&Value> =
        events["events"].as_array().unwrap().iter().filter(|e| e["action"] == "calendar_recomputed").collect();
    assert_eq!(recomputed.len(), 1, "{events}");
    assert_eq!(recomputed[0]["detail"]["reason"], "official calendar 2027 loaded");
    assert_eq!(recomputed[0]["detail"]["previous_due_date"], "2027-01-05");

    let (_, got) = w.step("2026-12-29T14:00:00+08:00");
    assert!(
        about(&got, &r).is_empty(),
        "R's deadline did not move: nobody is told: {:?}",
        about(&got, &r).iter().map(|m| (m.to.clone(), m.subject())).collect::<Vec<_>>()
    );
    let to_p = about(&got, &p);
    assert_eq!(to_p.len(), 2, "{:?}", to_p.iter().map(|m| m.subject()).collect::<Vec<_>>());
    let investor = to_p.iter().find(|m| m.to == ["anna.mueller@example.de"]).expect("P's investor is told");
    let text = investor.text_body().unwrap();
    assert!(investor.subject().unwrap().contains("[Due date changed]"));
    assert!(
        text.contains("2027-01-06 24:00 Beijing time")
            && text.contains("2027-01-05 24:00 Beijing time")
            && text.contains("official holiday arrangement for 2027"),
        "{text}"
    );
    let department = to_p.iter().find(|m| m.to == ["land@example.gov.cn"]).expect("P's department is told");
    assert!(department.subject().unwrap().contains("【期限调整】"));
    let to_q = about(&got, &q);
    assert!(
        to_q.iter().any(|m| m.to == ["anna.mueller@example.de"] && m.subject().unwrap().contains("【答复期限调整】")),
        "Q's investor, in Chinese"
    );
    assert_eq!(to_q.len(), 2);
    let to_s = about(&got, &s);
    assert_eq!(to_s.len(), 1, "S: the investor only (no department holds it)");
    assert_eq!(got.len(), 5, "nothing else: {:?}", got.iter().map(|m| m.subject()).collect::<Vec<_>>());

    // The pages say that it moved and from what.
    let page = w.complaint(&p_id);
    assert_eq!(page["deadline_moved"]["previous_due_date"], "2027-01-05");
    assert_eq!(page["deadline_moved"]["calendar_year"], 2027);
    let tracking = w.tracking_page(&p, &p_code, "en");
    assert!(
        tracking.contains(
            "The due date moved from 2027-01-05 to 2027-01-06 when the official 2027 holiday arrangement was published"
        ),
        "{tracking}"
    );
    let tracking = w.tracking_page(&p, &p_code, "zh");
    assert!(tracking.contains("期限由 2027-01-05 调整为 2027-01-06"), "{tracking}");

    // Loading the same year again moves nothing and tells nobody.
    let again = w.app.put("/api/v1/calendar/2027", Some(admin), "application/toml", toml.into_bytes()).json();
    assert_eq!(again["moved"].as_array().unwrap().len(), 0, "{again}");
    let (_, got) = w.step("2026-12-29T15:00:00+08:00");
    assert!(got.is_empty(), "{got:?}");

    // The ladder follows the new due date: "due today" comes on 01-06, not on 01-05.
    let _ = w.step("2027-01-06T10:00:00+08:00");
    let events = w.app.get(&format!("/api/v1/complaints/{p_id}/events"), Some(&w.coordinator)).json();
    let due_today: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "escalation" && e["detail"]["step"] == "due_today")
        .collect();
    assert_eq!(due_today.len(), 1, "due today is taken once, on the new due date: {events}");
    assert!(due_today[0]["detail"]["fell_due"].as_str().unwrap().starts_with("2027-01-06T09:00"), "{events}");
}
