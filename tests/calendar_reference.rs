//! The calendar against the reference data of official holiday notices 2017–2026
//! (tests/fixtures/cn-reference.json) and the shipped config/calendar files.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use anshang::calendar::{
    law, local_date, lunar, CalendarYear, Clock, Cutoff, DayKind, DayReason, PausedSpan, WorkingCalendar,
};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use serde::Deserialize;

const REFERENCE_JSON: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cn-reference.json"));
const CONFIG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/calendar");
const SHIPPED: std::ops::RangeInclusive<i32> = 2017..=2026;

#[derive(Deserialize)]
struct Reference {
    years: BTreeMap<i32, RefYear>,
}

#[derive(Deserialize)]
struct RefYear {
    off_days: Vec<RefDay>,
    makeup_workdays: Vec<RefDay>,
}

#[derive(Deserialize)]
struct RefDay {
    date: NaiveDate,
    name: String,
}

fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| serde_json::from_str(REFERENCE_JSON).expect("reference JSON"))
}

fn shipped_toml(year: i32) -> String {
    let path = format!("{CONFIG_DIR}/cn-{year}.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn shipped_years() -> Vec<CalendarYear> {
    SHIPPED.map(|y| CalendarYear::from_toml_str(&shipped_toml(y)).unwrap_or_else(|e| panic!("{e}"))).collect()
}

fn calendar() -> &'static WorkingCalendar {
    static CAL: OnceLock<WorkingCalendar> = OnceLock::new();
    CAL.get_or_init(|| WorkingCalendar::new(shipped_years()).expect("shipped calendar"))
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn clock(received: &str) -> Clock {
    Clock::new(at(received), 7)
}

/// The independent rule: make-up days work, off days don't, otherwise Mon–Fri.
fn reference_is_working(d: NaiveDate) -> bool {
    let year = &reference().years[&d.year()];
    if year.makeup_workdays.iter().any(|m| m.date == d) {
        return true;
    }
    if year.off_days.iter().any(|o| o.date == d) {
        return false;
    }
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

// ---------------------------------------------------------------------------------------------
// Shipped data

#[test]
fn shipped_files_equal_the_reference() {
    let reference = reference();
    assert_eq!(reference.years.keys().copied().collect::<Vec<_>>(), SHIPPED.collect::<Vec<_>>());
    for year in shipped_years() {
        let r = &reference.years[&year.year];
        let off: BTreeSet<_> = year.off_days.iter().map(|d| (d.date, d.name_en.as_str())).collect();
        let ref_off: BTreeSet<_> = r.off_days.iter().map(|d| (d.date, d.name.as_str())).collect();
        assert_eq!(off, ref_off, "off days of {}", year.year);
        let makeup: BTreeSet<_> = year.makeup_workdays.iter().map(|d| (d.date, d.for_en.as_str())).collect();
        let ref_makeup: BTreeSet<_> = r.makeup_workdays.iter().map(|d| (d.date, d.name.as_str())).collect();
        assert_eq!(makeup, ref_makeup, "make-up workdays of {}", year.year);
        assert!(!year.provisional);
        assert_eq!(year.notice.title, format!("国务院办公厅关于{}年部分节假日安排的通知", year.year));
        for d in &year.off_days {
            assert_eq!(law::Holiday::from_name_zh(&d.name_zh).map(|h| h.name_en()), Some(d.name_en.as_str()));
        }
    }
}

#[test]
fn every_day_2017_to_2026_matches_the_reference() {
    let cal = calendar();
    let first = date("2017-01-01");
    for d in first.iter_days().take_while(|d| d.year() <= 2026) {
        assert_eq!(cal.is_working_day(d), reference_is_working(d), "{d}");
        assert_eq!(cal.day_kind(d).is_working(), reference_is_working(d), "{d}");
    }
    for y in SHIPPED {
        assert!(!cal.is_provisional(y), "{y}");
    }
}

#[test]
fn seven_day_due_date_for_every_receipt_date() {
    let cal = calendar();
    let ten_am = NaiveTime::from_hms_opt(10, 0, 0).unwrap();
    for receipt in date("2017-01-01").iter_days().take_while(|d| *d <= date("2026-12-10")) {
        let received_at = receipt.and_time(ten_am).and_local_timezone(anshang::calendar::shanghai()).unwrap();
        let clock = Clock::new(received_at.to_utc(), 7);
        let due = clock.due(cal, received_at.to_utc());

        let mut expected = receipt;
        let mut counted = 0;
        while counted < 7 {
            expected = expected.succ_opt().unwrap();
            if reference_is_working(expected) {
                counted += 1;
            }
        }
        assert_eq!(due.due_date, expected, "received {receipt}");
        assert!(!due.provisional, "received {receipt}");
        assert_eq!(due.due_at.to_rfc3339(), format!("{}T00:00:00+08:00", expected.succ_opt().unwrap()));
    }
}

#[test]
fn law_days_2017_to_2026_are_all_off_in_the_reference() {
    for (year, r) in &reference().years {
        let off: BTreeSet<_> = r.off_days.iter().map(|d| d.date).collect();
        let days = law::law_days(*year).unwrap();
        assert!(days.len() >= 11, "{year}");
        for d in days {
            assert!(off.contains(&d.date), "{year}: {} {} not off", d.date, d.holiday.name_zh());
        }
    }
}

#[test]
fn shipped_files_round_trip_and_have_stable_versions() {
    for year in shipped_years() {
        let again = CalendarYear::from_toml_str(&year.to_toml_string()).unwrap();
        assert_eq!(again, year);
        assert_eq!(again.version(), year.version());
        assert_eq!(year.version().len(), 12);
        let mut reordered = year.clone();
        reordered.off_days.reverse();
        assert_eq!(reordered.version(), year.version(), "order does not matter");
        let mut changed = year.clone();
        changed.off_days.pop();
        assert_ne!(changed.version(), year.version());
        // The shipped file is the canonical form behind its comment header.
        let text = shipped_toml(year.year);
        assert!(text.ends_with(&year.to_toml_string()), "{} is not canonical", year.year);
        assert!(text.starts_with('#'));
    }
}

// ---------------------------------------------------------------------------------------------
// Named cases

#[test]
fn receipt_on_a_makeup_sunday_before_spring_festival_2024() {
    let due = clock("2024-02-04T10:00:00+08:00").due(calendar(), at("2024-02-04T10:00:00+08:00"));
    assert_eq!(due.due_date, date("2024-02-19"));
    assert_eq!(due.due_at.to_rfc3339(), "2024-02-20T00:00:00+08:00");
    assert!(!due.provisional);
}

#[test]
fn receipt_before_national_day_2026() {
    let now = at("2026-09-30T17:00:00+08:00");
    let due = clock("2026-09-30T17:00:00+08:00").due(calendar(), now);
    assert_eq!(due.due_date, date("2026-10-15"));
}

#[test]
fn receipt_date_is_the_shanghai_date() {
    assert_eq!(local_date(at("2021-12-31T16:00:00Z")), date("2022-01-01"));
    assert_eq!(local_date(at("2021-12-31T15:59:59Z")), date("2021-12-31"));
    let c = Clock::new(at("2021-12-31T16:00:00Z"), 7);
    assert_eq!(c.receipt_date(), date("2022-01-01"));
    let e = c.explain(calendar(), at("2022-01-01T00:00:00+08:00"));
    assert_eq!(e.receipt_date, date("2022-01-01"));
    assert_eq!(e.days[0].date, date("2022-01-02"));
    assert_eq!(e.due_date, date("2022-01-12"));
}

#[test]
fn receipt_at_the_edges_of_a_local_day() {
    let cal = calendar();
    let late = clock("2026-03-02T23:59:59+08:00");
    let midnight = clock("2026-03-03T00:00:00+08:00");
    assert_eq!(late.receipt_date(), date("2026-03-02"));
    assert_eq!(midnight.receipt_date(), date("2026-03-03"));
    assert_eq!(late.due(cal, late.received_at).due_date, date("2026-03-11"));
    assert_eq!(midnight.due(cal, midnight.received_at).due_date, date("2026-03-12"));
}

#[test]
fn makeup_saturday_is_counted() {
    let c = clock("2026-10-09T10:00:00+08:00");
    let now = c.received_at;
    assert_eq!(c.due(calendar(), now).due_date, date("2026-10-19"));
    let e = c.explain(calendar(), now);
    let saturday = &e.days[0];
    assert_eq!(saturday.date, date("2026-10-10"));
    assert_eq!(saturday.ordinal, Some(1));
    assert_eq!(
        saturday.reason,
        DayReason::CountedMakeupWorkday { for_zh: "国庆节".into(), for_en: "National Day".into() }
    );
}

#[test]
fn extended_spring_festival_2020() {
    let cal = calendar();
    let c = clock("2020-01-22T10:00:00+08:00");
    assert_eq!(c.due(cal, c.received_at).due_date, date("2020-02-10"));
    // The make-up Saturday of the original notice was dropped by the extension.
    assert!(!cal.is_working_day(date("2020-02-01")));
    assert!(cal.is_working_day(date("2020-01-19")), "make-up Sunday");
    assert_eq!(cal.working_days_between(date("2020-01-23"), date("2020-02-03")), 1);
}

#[test]
fn due_dates_across_year_boundaries() {
    let cal = calendar();
    // 2018-12-29 is a make-up Saturday for the 2019 New Year holiday.
    let c = clock("2018-12-28T10:00:00+08:00");
    let e = c.explain(cal, c.received_at);
    assert_eq!(e.due_date, date("2019-01-09"));
    assert_eq!(e.days[0].ordinal, Some(1));
    assert_eq!(
        e.calendar_versions.iter().map(|v| (v.year, v.provisional)).collect::<Vec<_>>(),
        [(2018, false), (2019, false)]
    );
    assert_eq!(e.calendar_versions[0].version, cal.year(2018).unwrap().version());
    let c = clock("2022-12-30T10:00:00+08:00");
    assert_eq!(c.due(cal, c.received_at).due_date, date("2023-01-11"));
}

#[test]
fn due_in_2027_is_provisional_until_2027_is_loaded() {
    let received = at("2026-12-28T10:00:00+08:00");
    let c = Clock::new(received, 7);
    let cal = calendar();
    let due = c.due(cal, received);
    assert_eq!(due.due_date, date("2027-01-07"));
    assert!(due.provisional);
    let e = c.explain(cal, received);
    assert!(e.provisional);
    assert!(e.days.iter().any(|d| d.date == date("2027-01-01")
        && d.reason == DayReason::Holiday { name_zh: "元旦".into(), name_en: "New Year's Day".into() }));
    assert_eq!(e.calendar_versions.last().map(|v| (v.year, v.provisional)), Some((2027, true)));
    assert_eq!(cal.provisional_years(2017, 2028), [2027, 2028]);
    // Within 2026 nothing is provisional.
    let early = Clock::new(at("2026-12-10T10:00:00+08:00"), 7);
    assert!(!early.due(cal, early.received_at).provisional);

    // Test data standing in for a 2027 notice (not the real one).
    let year_2027 = CalendarYear::from_toml_str(TEST_2027).unwrap();
    let mut years = shipped_years();
    years.push(year_2027);
    let cal = WorkingCalendar::new(years).unwrap();
    let due = c.due(&cal, received);
    assert_eq!(due.due_date, date("2027-01-07"));
    assert!(!due.provisional);
    assert!(!cal.is_provisional(2027));
    assert!(cal.is_working_day(date("2027-02-20")), "test make-up Saturday");
}

const TEST_2027: &str = r#"
year = 2027

[notice]
title = "测试数据：2027年节假日安排（非官方）"
title_en = "Test data for 2027, not the official notice"

[[off_day]]
date = 2027-01-01
name_zh = "元旦"
name_en = "New Year's Day"
[[off_day]]
date = 2027-01-02
name_zh = "元旦"
name_en = "New Year's Day"
[[off_day]]
date = 2027-01-03
name_zh = "元旦"
name_en = "New Year's Day"
[[off_day]]
date = 2027-02-05
name_zh = "春节"
name_en = "Spring Festival"
[[off_day]]
date = 2027-02-06
name_zh = "春节"
name_en = "Spring Festival"
[[off_day]]
date = 2027-02-07
name_zh = "春节"
name_en = "Spring Festival"
[[off_day]]
date = 2027-02-08
name_zh = "春节"
name_en = "Spring Festival"
[[off_day]]
date = 2027-02-09
name_zh = "春节"
name_en = "Spring Festival"
[[off_day]]
date = 2027-02-10
name_zh = "春节"
name_en = "Spring Festival"
[[off_day]]
date = 2027-04-05
name_zh = "清明节"
name_en = "Tomb-sweeping Day"
[[off_day]]
date = 2027-05-01
name_zh = "劳动节"
name_en = "Labour Day"
[[off_day]]
date = 2027-05-02
name_zh = "劳动节"
name_en = "Labour Day"
[[off_day]]
date = 2027-06-09
name_zh = "端午节"
name_en = "Dragon Boat Festival"
[[off_day]]
date = 2027-09-15
name_zh = "中秋节"
name_en = "Mid-autumn Festival"
[[off_day]]
date = 2027-10-01
name_zh = "国庆节"
name_en = "National Day"
[[off_day]]
date = 2027-10-02
name_zh = "国庆节"
name_en = "National Day"
[[off_day]]
date = 2027-10-03
name_zh = "国庆节"
name_en = "National Day"

[[makeup_workday]]
date = "2027-02-20"
for_zh = "春节"
for_en = "Spring Festival"
"#;

// ---------------------------------------------------------------------------------------------
// Breach and cutoff

#[test]
fn end_of_day_breach_edge() {
    let cal = calendar();
    let c = clock("2026-03-02T10:00:00+08:00");
    let due = c.due(cal, c.received_at);
    assert_eq!(due.due_date, date("2026-03-11"));
    assert_eq!(due.due_at.to_rfc3339(), "2026-03-12T00:00:00+08:00");
    let last_second = at("2026-03-11T23:59:59+08:00");
    let midnight = at("2026-03-12T00:00:00+08:00");
    assert!(!c.is_breached(cal, last_second));
    assert_eq!(c.working_days_left(cal, last_second), 0);
    assert!(c.is_breached(cal, midnight));
    assert_eq!(c.working_days_left(cal, midnight), -1);
    assert_eq!(c.working_days_left(cal, at("2026-03-13T09:00:00+08:00")), -2);
    assert_eq!(c.working_days_left(cal, at("2026-03-14T09:00:00+08:00")), -2, "Saturday");
    assert_eq!(c.working_days_left(cal, at("2026-03-02T10:00:00+08:00")), 7);
    assert_eq!(c.working_days_left(cal, at("2026-03-07T10:00:00+08:00")), 3, "Saturday");
}

#[test]
fn office_hours_cutoff() {
    let cal = calendar();
    let mut c = clock("2026-03-02T10:00:00+08:00");
    c.cutoff = "17:30".parse().unwrap();
    assert_eq!(c.cutoff, Cutoff::At(NaiveTime::from_hms_opt(17, 30, 0).unwrap()));
    let due = c.due(cal, c.received_at);
    assert_eq!(due.due_at.to_rfc3339(), "2026-03-11T17:30:00+08:00");
    assert!(!c.is_breached(cal, at("2026-03-11T17:29:59+08:00")));
    assert_eq!(c.working_days_left(cal, at("2026-03-11T17:29:59+08:00")), 0);
    assert!(c.is_breached(cal, at("2026-03-11T17:30:00+08:00")));
    assert_eq!(c.working_days_left(cal, at("2026-03-11T17:30:00+08:00")), -1);
}

#[test]
fn cutoff_parses_and_serialises() {
    assert_eq!("24:00".parse::<Cutoff>().unwrap(), Cutoff::EndOfDay);
    assert_eq!(Cutoff::default(), Cutoff::EndOfDay);
    assert_eq!("17:30".parse::<Cutoff>().unwrap().to_string(), "17:30");
    assert_eq!("17:30:15".parse::<Cutoff>().unwrap().to_string(), "17:30:15");
    assert_eq!(serde_json::to_string(&Cutoff::EndOfDay).unwrap(), r#""24:00""#);
    let c: Cutoff = serde_json::from_str(r#""09:00""#).unwrap();
    assert_eq!(c, Cutoff::At(NaiveTime::from_hms_opt(9, 0, 0).unwrap()));
    for bad in ["25:00", "noon", "", "00:00"] {
        let err = bad.parse::<Cutoff>().unwrap_err().to_string();
        assert!(err.contains("cutoff"), "{err}");
    }
    assert!(serde_json::from_str::<Cutoff>(r#""7pm""#).is_err());
}

// ---------------------------------------------------------------------------------------------
// Pauses and explanations

#[test]
fn explanation_lists_counted_skipped_and_paused_days() {
    let cal = calendar();
    let mut c = clock("2024-02-04T10:00:00+08:00");
    let e = c.explain(cal, at("2024-02-05T09:00:00+08:00"));
    let ordinals: Vec<u32> = e.days.iter().filter_map(|d| d.ordinal).collect();
    assert_eq!(ordinals, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(e.days.len(), 15);
    assert_eq!(e.days.last().unwrap().date, date("2024-02-19"));
    assert!(e.days.iter().filter(|d| !d.counted).all(|d| d.ordinal.is_none()));
    let spring: Vec<_> = e
        .days
        .iter()
        .filter(|d| matches!(&d.reason, DayReason::Holiday { name_zh, .. } if name_zh == "春节"))
        .collect();
    assert_eq!(spring.len(), 8);
    assert!(e.receipt_day_not_counted_reason.en.contains("Civil Code art. 201"));
    assert!(!e.breached);
    // Seen on day 1: six counted days after today.
    assert_eq!(e.working_days_left, 6);

    // Paused on day 2 (02-06), resumed on 02-07: 02-07 is not counted.
    c.paused.push(PausedSpan { from: at("2024-02-06T11:00:00+08:00"), until: Some(at("2024-02-07T09:00:00+08:00")) });
    let e = c.explain(cal, at("2024-02-08T09:00:00+08:00"));
    assert_eq!(e.due_date, date("2024-02-20"));
    assert_eq!(e.due_at.to_rfc3339(), "2024-02-21T00:00:00+08:00");
    let day = |d: &str| e.days.iter().find(|x| x.date == date(d)).unwrap();
    assert_eq!(day("2024-02-06").ordinal, Some(2));
    assert_eq!(day("2024-02-07").reason, DayReason::Paused);
    assert!(!day("2024-02-07").counted);
    assert_eq!(day("2024-02-08").ordinal, Some(3));
    assert_eq!(day("2024-02-20").ordinal, Some(7));
    assert_eq!(e.pauses.len(), 1);
    assert_eq!((e.pauses[0].pause_date, e.pauses[0].resume_date), (date("2024-02-06"), date("2024-02-07")));
    assert!(!e.pauses[0].open);

    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["days"][0]["reason"]["kind"], "counted");
    assert_eq!(json["days"][2]["reason"]["kind"], "paused");
    assert_eq!(json["received_at"], "2024-02-04T10:00:00+08:00");
    assert_eq!(json["due_date"], "2024-02-20");
    assert_eq!(json["cutoff"], "24:00");
    assert_eq!(json["calendar_versions"][0]["year"], 2024);
}

#[test]
fn open_pause_freezes_the_clock() {
    let cal = calendar();
    let mut c = clock("2024-02-04T10:00:00+08:00");
    c.paused.push(PausedSpan { from: at("2024-02-06T11:00:00+08:00"), until: None });
    let cases = [
        ("2024-02-06T12:00:00+08:00", "2024-02-19"),
        ("2024-02-07T12:00:00+08:00", "2024-02-20"),
        ("2024-02-12T12:00:00+08:00", "2024-02-22"),
        ("2024-03-01T12:00:00+08:00", "2024-03-08"),
    ];
    for (now, due) in cases {
        let now = at(now);
        assert!(c.is_paused(now));
        assert_eq!(c.due(cal, now).due_date, date(due), "at {now}");
        assert_eq!(c.working_days_left(cal, now), 5, "at {now}");
        assert!(!c.is_breached(cal, now));
    }
    assert!(!c.is_paused(at("2024-02-06T10:59:59+08:00")));
    let e = c.explain(cal, at("2024-02-07T12:00:00+08:00"));
    assert!(e.pauses[0].open);
    assert_eq!(e.pauses[0].resume_date, date("2024-02-07"));
}

#[test]
fn pause_within_one_day_or_on_a_holiday_costs_nothing() {
    let cal = calendar();
    let base = clock("2024-02-04T10:00:00+08:00");
    let mut same_day = base.clone();
    same_day
        .paused
        .push(PausedSpan { from: at("2024-02-06T09:00:00+08:00"), until: Some(at("2024-02-06T17:00:00+08:00")) });
    let mut over_holiday = base.clone();
    over_holiday
        .paused
        .push(PausedSpan { from: at("2024-02-10T09:00:00+08:00"), until: Some(at("2024-02-17T17:00:00+08:00")) });
    let now = at("2024-03-01T00:00:00+08:00");
    for c in [&same_day, &over_holiday] {
        assert_eq!(c.due(cal, now).due_date, date("2024-02-19"));
        assert!(!c.is_paused(now));
    }
}

#[test]
fn a_pause_from_the_due_date_on_does_not_move_it() {
    // The pause date is the department's: pausing on the last day gains nothing.
    let cal = calendar();
    let mut c = clock("2026-03-02T10:00:00+08:00");
    c.paused.push(PausedSpan { from: at("2026-03-11T10:00:00+08:00"), until: None });
    let now = at("2026-03-12T10:00:00+08:00");
    assert!(c.is_paused(now));
    assert_eq!(c.due(cal, now).due_date, date("2026-03-11"));
    assert!(c.is_breached(cal, now));
    assert_eq!(c.working_days_left(cal, now), -1);
    // One day earlier, the same pause moves the due date day by day.
    c.paused[0].from = at("2026-03-10T10:00:00+08:00");
    assert_eq!(c.due(cal, now).due_date, date("2026-03-13"));
    assert_eq!(c.working_days_left(cal, now), 1);
}

#[test]
fn extension_days_add_to_the_period() {
    let cal = calendar();
    let mut c = clock("2026-03-02T10:00:00+08:00");
    c.extension_days = 3;
    assert_eq!(c.due(cal, c.received_at).due_date, date("2026-03-16"));
    let e = c.explain(cal, c.received_at);
    assert_eq!((e.working_days, e.extension_days), (7, 3));
    assert_eq!(e.days.iter().filter(|d| d.counted).count(), 10);
}

// ---------------------------------------------------------------------------------------------
// Provisional years

#[test]
fn provisional_2027_follows_the_2024_amendment() {
    let y = CalendarYear::provisional(2027).unwrap();
    assert!(y.provisional);
    assert!(y.notice.title.contains("暂定"));
    assert!(y.notice.title_en.contains("Provisional"));
    assert!(y.makeup_workdays.is_empty());
    let off: Vec<String> = y.off_days.iter().map(|d| format!("{} {}", d.date.format("%m-%d"), d.name_zh)).collect();
    assert_eq!(
        off,
        [
            "01-01 元旦",
            // 除夕 Fri, 初一 Sat, 初二 Sun, 初三 Mon; the weekend days move to Tue and Wed.
            "02-05 春节",
            "02-06 春节",
            "02-07 春节",
            "02-08 春节",
            "02-09 春节",
            "02-10 春节",
            "04-05 清明节",
            // May 1–2 fall on Sat–Sun.
            "05-01 劳动节",
            "05-02 劳动节",
            "05-03 劳动节",
            "05-04 劳动节",
            "06-09 端午节",
            "09-15 中秋节",
            "10-01 国庆节",
            "10-02 国庆节",
            "10-03 国庆节",
            "10-04 国庆节",
            "10-05 国庆节",
        ]
    );
    y.validate().unwrap();
}

#[test]
fn provisional_years_before_2025_use_the_2013_version() {
    // 2024 under the 2013 version: 春节 初一–初三 only, 劳动节 one day.
    let y = CalendarYear::provisional(2024).unwrap();
    let spring: Vec<_> = y.off_days.iter().filter(|d| d.name_zh == "春节").map(|d| d.date.to_string()).collect();
    assert_eq!(spring, ["2024-02-10", "2024-02-11", "2024-02-12", "2024-02-13", "2024-02-14"]);
    let labour: Vec<_> = y.off_days.iter().filter(|d| d.name_zh == "劳动节").map(|d| d.date.to_string()).collect();
    assert_eq!(labour, ["2024-05-01"]);
    // 2020: 中秋 falls on National Day and gives no extra day.
    let y = CalendarYear::provisional(2020).unwrap();
    assert!(y.off_days.iter().all(|d| d.name_zh != "中秋节"));
    // National Day Thu–Sat, the Saturday moved to Monday.
    assert_eq!(y.off_days.iter().filter(|d| d.name_zh == "国庆节").count(), 5);
}

#[test]
fn provisional_off_days_are_within_the_official_ones_2017_to_2026() {
    // The law's days with weekend substitution are a floor the notices have always honoured.
    for official in shipped_years() {
        let provisional = CalendarYear::provisional(official.year).unwrap();
        let off: BTreeSet<_> = official.off_days.iter().map(|d| d.date).collect();
        for d in &provisional.off_days {
            assert!(off.contains(&d.date), "{}: provisional {} {} is a working day", official.year, d.date, d.name_zh);
        }
    }
}

#[test]
fn every_supported_year_has_a_valid_provisional_stand_in() {
    for year in WorkingCalendar::supported_years() {
        let y = CalendarYear::provisional(year).unwrap_or_else(|e| panic!("{e}"));
        y.validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(CalendarYear::from_toml_str(&y.to_toml_string()).unwrap(), y);
    }
    for year in [1949, 2100, -5, 10_000] {
        let err = CalendarYear::provisional(year).unwrap_err().to_string();
        assert!(err.contains(&year.to_string()), "{err}");
    }
}

#[test]
fn calendar_without_official_data_is_provisional_everywhere() {
    let cal = WorkingCalendar::new(Vec::new()).unwrap();
    assert!(cal.is_provisional(2026));
    assert_eq!(cal.provisional_years(2025, 2026), [2025, 2026]);
    let w = cal.add_working_days(date("2026-09-30"), 7);
    assert!(w.provisional);
    // Provisional 2026: Oct 1–3 (Thu–Sat) plus Mon Oct 5 for the Saturday.
    assert_eq!(w.date, date("2026-10-14"));
    assert_eq!(
        cal.day_kind(date("2026-10-05")),
        DayKind::Holiday { name_zh: "国庆节".into(), name_en: "National Day".into() }
    );
    // Outside the supported years: plain weekdays, always provisional.
    assert!(cal.is_provisional(2100));
    assert!(cal.year(2100).is_none());
    assert!(cal.is_working_day(date("2100-01-01")));
    assert_eq!(cal.day_kind(date("2100-01-02")), DayKind::Weekend);
    let w = cal.add_working_days(date("2099-12-30"), 3);
    assert_eq!(w.date, date("2100-01-04"));
    assert!(w.provisional);
}

// ---------------------------------------------------------------------------------------------
// Lunar dates and the law

#[test]
fn known_lunar_dates() {
    assert_eq!(lunar::new_year(2027), Some(date("2027-02-06")));
    assert_eq!(lunar::new_years_eve(2027), Some(date("2027-02-05")));
    assert_eq!(lunar::qingming(2027), Some(date("2027-04-05")));
    assert_eq!(lunar::to_gregorian(2027, 5, 5), Some(date("2027-06-09")));
    assert_eq!(lunar::to_gregorian(2027, 8, 15), Some(date("2027-09-15")));
    // 2033 has a leap 11th month (GB/T 33661-2017), so 2034's new year is late.
    assert_eq!(lunar::new_year(2034), Some(date("2034-02-19")));
}

/// 除夕, 春节, 清明, 端午, 中秋 (MMDD) for 1950–2099, from lunar-python 1.4.8 (寿星 algorithm),
/// each year also confirmed by an independent PyEphem computation of new moons and solar terms.
const LUNAR_GOLDEN: &str = "
    1950 0216 0217 0405 0619 0926  1951 0205 0206 0405 0609 0915  1952 0126 0127 0405 0528 1003
    1953 0213 0214 0405 0615 0922  1954 0202 0203 0405 0605 0911  1955 0123 0124 0405 0624 0930
    1956 0211 0212 0405 0613 0919  1957 0130 0131 0405 0602 0908  1958 0217 0218 0405 0621 0927
    1959 0207 0208 0405 0610 0917  1960 0127 0128 0405 0529 1005  1961 0214 0215 0405 0617 0924
    1962 0204 0205 0405 0606 0913  1963 0124 0125 0405 0625 1002  1964 0212 0213 0405 0614 0920
    1965 0201 0202 0405 0604 0910  1966 0120 0121 0405 0623 0929  1967 0208 0209 0405 0612 0918
    1968 0129 0130 0405 0531 1006  1969 0216 0217 0405 0619 0926  1970 0205 0206 0405 0608 0915
    1971 0126 0127 0405 0528 1003  1972 0214 0215 0405 0615 0922  1973 0202 0203 0405 0605 0911
    1974 0122 0123 0405 0624 0930  1975 0210 0211 0405 0614 0920  1976 0130 0131 0404 0602 0908
    1977 0217 0218 0405 0621 0927  1978 0206 0207 0405 0610 0917  1979 0127 0128 0405 0530 1005
    1980 0215 0216 0404 0617 0923  1981 0204 0205 0405 0606 0912  1982 0124 0125 0405 0625 1001
    1983 0212 0213 0405 0615 0921  1984 0201 0202 0404 0604 0910  1985 0219 0220 0405 0622 0929
    1986 0208 0209 0405 0611 0918  1987 0128 0129 0405 0531 1007  1988 0216 0217 0404 0618 0925
    1989 0205 0206 0405 0608 0914  1990 0126 0127 0405 0528 1003  1991 0214 0215 0405 0616 0922
    1992 0203 0204 0404 0605 0911  1993 0122 0123 0405 0624 0930  1994 0209 0210 0405 0613 0920
    1995 0130 0131 0405 0602 0909  1996 0218 0219 0404 0620 0927  1997 0206 0207 0405 0609 0916
    1998 0127 0128 0405 0530 1005  1999 0215 0216 0405 0618 0924  2000 0204 0205 0404 0606 0912
    2001 0123 0124 0405 0625 1001  2002 0211 0212 0405 0615 0921  2003 0131 0201 0405 0604 0911
    2004 0121 0122 0404 0622 0928  2005 0208 0209 0405 0611 0918  2006 0128 0129 0405 0531 1006
    2007 0217 0218 0405 0619 0925  2008 0206 0207 0404 0608 0914  2009 0125 0126 0404 0528 1003
    2010 0213 0214 0405 0616 0922  2011 0202 0203 0405 0606 0912  2012 0122 0123 0404 0623 0930
    2013 0209 0210 0404 0612 0919  2014 0130 0131 0405 0602 0908  2015 0218 0219 0405 0620 0927
    2016 0207 0208 0404 0609 0915  2017 0127 0128 0404 0530 1004  2018 0215 0216 0405 0618 0924
    2019 0204 0205 0405 0607 0913  2020 0124 0125 0404 0625 1001  2021 0211 0212 0404 0614 0921
    2022 0131 0201 0405 0603 0910  2023 0121 0122 0405 0622 0929  2024 0209 0210 0404 0610 0917
    2025 0128 0129 0404 0531 1006  2026 0216 0217 0405 0619 0925  2027 0205 0206 0405 0609 0915
    2028 0125 0126 0404 0528 1003  2029 0212 0213 0404 0616 0922  2030 0202 0203 0405 0605 0912
    2031 0122 0123 0405 0624 1001  2032 0210 0211 0404 0612 0919  2033 0130 0131 0404 0601 0908
    2034 0218 0219 0405 0620 0927  2035 0207 0208 0405 0610 0916  2036 0127 0128 0404 0530 1004
    2037 0214 0215 0404 0618 0924  2038 0203 0204 0405 0607 0913  2039 0123 0124 0405 0527 1002
    2040 0211 0212 0404 0614 0920  2041 0131 0201 0404 0603 0910  2042 0121 0122 0404 0622 0928
    2043 0209 0210 0405 0611 0917  2044 0129 0130 0404 0531 1005  2045 0216 0217 0404 0619 0925
    2046 0205 0206 0404 0608 0915  2047 0125 0126 0405 0529 1004  2048 0213 0214 0404 0615 0922
    2049 0201 0202 0404 0604 0911  2050 0122 0123 0404 0623 0930  2051 0210 0211 0405 0613 0919
    2052 0131 0201 0404 0601 0907  2053 0218 0219 0404 0620 0926  2054 0207 0208 0404 0610 0916
    2055 0127 0128 0405 0530 1005  2056 0214 0215 0404 0617 0924  2057 0203 0204 0404 0606 0913
    2058 0123 0124 0404 0625 1002  2059 0211 0212 0405 0614 0921  2060 0201 0202 0404 0603 0909
    2061 0120 0121 0404 0622 0928  2062 0208 0209 0404 0611 0917  2063 0128 0129 0405 0601 1006
    2064 0216 0217 0404 0619 0925  2065 0204 0205 0404 0608 0915  2066 0125 0126 0404 0528 1003
    2067 0213 0214 0405 0616 0923  2068 0202 0203 0404 0604 0911  2069 0122 0123 0404 0623 0929
    2070 0210 0211 0404 0613 0919  2071 0130 0131 0405 0602 0908  2072 0218 0219 0404 0620 0926
    2073 0206 0207 0404 0610 0916  2074 0126 0127 0404 0530 1005  2075 0214 0215 0404 0617 0924
    2076 0204 0205 0404 0606 0912  2077 0123 0124 0404 0624 1001  2078 0211 0212 0404 0614 0920
    2079 0201 0202 0404 0604 0910  2080 0121 0122 0404 0622 0928  2081 0208 0209 0404 0611 0917
    2082 0128 0129 0404 0601 1006  2083 0216 0217 0404 0619 0926  2084 0205 0206 0404 0607 0914
    2085 0125 0126 0404 0527 1003  2086 0213 0214 0404 0615 0922  2087 0202 0203 0404 0605 0911
    2088 0123 0124 0404 0623 0929  2089 0209 0210 0404 0613 0918  2090 0129 0130 0404 0602 0908
    2091 0217 0218 0404 0621 0927  2092 0206 0207 0404 0609 0916  2093 0126 0127 0404 0529 1005
    2094 0214 0215 0404 0617 0924  2095 0204 0205 0404 0606 0913  2096 0124 0125 0404 0624 0930
    2097 0211 0212 0404 0614 0920  2098 0131 0201 0404 0604 0909  2099 0120 0121 0404 0623 0929
";

#[test]
fn lunar_dates_1950_to_2099_match_astronomical_data() {
    let tokens: Vec<&str> = LUNAR_GOLDEN.split_whitespace().collect();
    assert_eq!(tokens.len(), 150 * 6);
    for row in tokens.chunks(6) {
        let year: i32 = row[0].parse().unwrap();
        let md = |s: &str| NaiveDate::from_ymd_opt(year, s[..2].parse().unwrap(), s[2..].parse().unwrap());
        assert_eq!(lunar::new_years_eve(year), md(row[1]), "{year} 除夕");
        assert_eq!(lunar::new_year(year), md(row[2]), "{year} 春节");
        assert_eq!(lunar::qingming(year), md(row[3]), "{year} 清明");
        assert_eq!(lunar::to_gregorian(year, 5, 5), md(row[4]), "{year} 端午");
        assert_eq!(lunar::to_gregorian(year, 8, 15), md(row[5]), "{year} 中秋");
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: each rule rejects with a message naming the date

fn year_2026() -> CalendarYear {
    CalendarYear::from_toml_str(&shipped_toml(2026)).unwrap()
}

fn rejected(year: &CalendarYear) -> String {
    let err = year.validate().expect_err("must be rejected").to_string();
    // The same message comes out of parsing.
    let parsed = CalendarYear::from_toml_str(&year.to_toml_string()).unwrap_err().to_string();
    assert_eq!(parsed, err);
    err
}

fn off_day(d: &str, zh: &str, en: &str) -> anshang::calendar::OffDay {
    anshang::calendar::OffDay { date: date(d), name_zh: zh.into(), name_en: en.into() }
}

#[test]
fn rejects_dates_outside_the_year() {
    let mut y = year_2026();
    y.off_days.push(off_day("2027-01-01", "元旦", "New Year's Day"));
    let err = rejected(&y);
    assert!(err.contains("2027-01-01") && err.contains("not in 2026"), "{err}");
}

#[test]
fn rejects_duplicate_dates() {
    let mut y = year_2026();
    y.off_days.push(off_day("2026-10-01", "国庆节", "National Day"));
    let err = rejected(&y);
    assert!(err.contains("2026-10-01") && err.contains("more than once"), "{err}");
}

#[test]
fn rejects_a_day_both_off_and_makeup() {
    let mut y = year_2026();
    y.makeup_workdays.push(anshang::calendar::MakeupWorkday {
        date: date("2026-10-03"),
        for_zh: "国庆节".into(),
        for_en: "National Day".into(),
    });
    let err = rejected(&y);
    assert!(err.contains("2026-10-03") && err.contains("both"), "{err}");
}

#[test]
fn rejects_makeup_on_a_weekday() {
    let mut y = year_2026();
    y.makeup_workdays[0].date = date("2026-01-05");
    let err = rejected(&y);
    assert!(err.contains("2026-01-05") && err.contains("Monday") && err.contains("Saturday or Sunday"), "{err}");
}

#[test]
fn rejects_a_gap_inside_a_holiday_span() {
    let mut y = year_2026();
    // 2026-02-21 is a Saturday inside the Spring Festival span, not itself a law day.
    y.off_days.retain(|d| d.date != date("2026-02-21"));
    let err = rejected(&y);
    assert!(err.contains("2026-02-21") && err.contains("春节") && err.contains("contiguous"), "{err}");
}

#[test]
fn rejects_a_missing_law_day() {
    let mut y = year_2026();
    // 中秋 2026-09-25 opens its span, so dropping it leaves no gap.
    y.off_days.retain(|d| d.date != date("2026-09-25"));
    let err = rejected(&y);
    assert!(err.contains("2026-09-25") && err.contains("中秋节") && err.contains("2024"), "{err}");

    // 除夕 is a law day from 2025 on.
    let mut y = CalendarYear::from_toml_str(&shipped_toml(2025)).unwrap();
    y.off_days.retain(|d| d.date != date("2025-01-28"));
    let err = rejected(&y);
    assert!(err.contains("2025-01-28") && err.contains("春节"), "{err}");
}

#[test]
fn rejects_empty_names() {
    let mut y = year_2026();
    y.off_days[3].name_en = " ".into();
    let err = rejected(&y);
    assert!(err.contains(&y.off_days[3].date.to_string()) && err.contains("name_en"), "{err}");
}

#[test]
fn rejects_years_out_of_range_and_twice() {
    let mut y = year_2026();
    y.year = 1949;
    y.off_days.clear();
    y.makeup_workdays.clear();
    assert!(y.validate().unwrap_err().to_string().contains("1949"));
    let err = WorkingCalendar::new(vec![year_2026(), year_2026()]).unwrap_err().to_string();
    assert!(err.contains("2026") && err.contains("more than once"), "{err}");
}

#[test]
fn toml_parsing_is_strict_and_accepts_string_dates() {
    let text = shipped_toml(2026);
    let err = CalendarYear::from_toml_str(&text.replace("[[off_day]]", "[[off_days]]")).unwrap_err();
    assert!(err.to_string().contains("off_days"), "{err}");
    let err =
        CalendarYear::from_toml_str(&text.replacen("date = 2026-01-01", "date = 2026-01-01T10:00:00", 1)).unwrap_err();
    assert!(err.to_string().contains("2026-01-01"), "{err}");
    let quoted = CalendarYear::from_toml_str(&text.replace("date = 2026-01-01", "date = \"2026-01-01\"")).unwrap();
    assert_eq!(quoted, year_2026());
    // JSON, as the admin API would use it, round-trips too.
    let json = serde_json::to_string(&year_2026()).unwrap();
    assert!(json.contains(r#""date":"2026-01-01""#));
    assert_eq!(serde_json::from_str::<CalendarYear>(&json).unwrap(), year_2026());
}
