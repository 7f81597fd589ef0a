//! Properties of working-day arithmetic and response clocks, over the shipped calendar
//! (official 2017–2026, provisional elsewhere) and beyond the supported years.

use std::sync::OnceLock;

use anshang::calendar::{local_date, CalendarYear, Clock, DayReason, PausedSpan, WorkingCalendar};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use proptest::prelude::*;

fn calendar() -> &'static WorkingCalendar {
    static CAL: OnceLock<WorkingCalendar> = OnceLock::new();
    CAL.get_or_init(|| {
        let years = (2017..=2026)
            .map(|y| {
                let path = format!("{}/config/calendar/cn-{y}.toml", env!("CARGO_MANIFEST_DIR"));
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
                CalendarYear::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        WorkingCalendar::new(years).unwrap()
    })
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Instants from 2016 to 2028: official years, their edges and provisional neighbours.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let lo = ymd(2016, 6, 1).and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let hi = ymd(2028, 6, 1).and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    (lo..hi).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

/// Dates from 1940 to 2110, across both ends of the supported years.
fn any_date() -> impl Strategy<Value = NaiveDate> {
    let lo = ymd(1940, 1, 1).num_days_from_ce();
    let hi = ymd(2110, 12, 31).num_days_from_ce();
    (lo..=hi).prop_map(|n| NaiveDate::from_num_days_from_ce_opt(n).unwrap())
}

/// Pause spans as (start after receipt, length, still open).
fn pauses() -> impl Strategy<Value = Vec<(i64, i64, bool)>> {
    prop::collection::vec((0..40 * 86_400i64, 0..25 * 86_400i64, prop::bool::weighted(0.2)), 0..4)
}

fn with_pauses(received: DateTime<Utc>, n: u32, spans: &[(i64, i64, bool)]) -> Clock {
    let mut c = Clock::new(received, n);
    c.paused = spans
        .iter()
        .map(|&(start, len, open)| {
            let from = received + TimeDelta::seconds(start);
            PausedSpan { from, until: (!open).then(|| from + TimeDelta::seconds(len)) }
        })
        .collect();
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn due_is_the_nth_working_day_after_receipt(received in instant(), n in 1u32..=60) {
        let cal = calendar();
        let due = Clock::new(received, n).due(cal, received);
        prop_assert!(cal.is_working_day(due.due_date));
        prop_assert_eq!(cal.working_days_between(local_date(received), due.due_date), i64::from(n));
        prop_assert!(due.due_at > received);
        prop_assert_eq!(due.due_at.offset().local_minus_utc(), 8 * 3600);
    }

    #[test]
    fn due_is_monotone_in_receipt_time(a in instant(), b in instant(), n in 0u32..=30) {
        let cal = calendar();
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        let d1 = Clock::new(early, n).due(cal, late);
        let d2 = Clock::new(late, n).due(cal, late);
        prop_assert!(d1.due_date <= d2.due_date);
        prop_assert!(d1.due_at <= d2.due_at);
    }

    #[test]
    fn a_pause_never_shortens_the_clock(
        received in instant(),
        n in 1u32..=20,
        spans in pauses(),
        later in 0..80 * 86_400i64,
    ) {
        let cal = calendar();
        let now = received + TimeDelta::seconds(later);
        let plain = Clock::new(received, n).due(cal, now);
        let paused = with_pauses(received, n, &spans);
        let due = paused.due(cal, now);
        prop_assert!(due.due_date >= plain.due_date);
        prop_assert!(cal.is_working_day(due.due_date));

        // The explanation accounts for every day: N counted, the rest skipped with a reason.
        let e = paused.explain(cal, now);
        prop_assert_eq!(e.due_date, due.due_date);
        let ordinals: Vec<u32> = e.days.iter().filter_map(|d| d.ordinal).collect();
        prop_assert_eq!(ordinals, (1..=n).collect::<Vec<_>>());
        prop_assert_eq!(e.days.last().map(|d| d.counted), Some(true));
        let skipped_paused = e.days.iter().filter(|d| d.reason == DayReason::Paused).count() as i64;
        prop_assert_eq!(
            cal.working_days_between(paused.receipt_date(), due.due_date),
            i64::from(n) + skipped_paused
        );
    }

    #[test]
    fn an_open_pause_freezes_the_days_left(
        received in instant(),
        n in 1u32..=15,
        pause_after in 0..20 * 86_400i64,
        t1 in 0..30 * 86_400i64,
        t2 in 0..30 * 86_400i64,
    ) {
        let cal = calendar();
        let plain = Clock::new(received, n);
        let from = received + TimeDelta::seconds(pause_after);
        // A pause from the due date on cannot help: that day was the department's.
        prop_assume!(local_date(from) < plain.due(cal, from).due_date);
        let mut c = plain.clone();
        c.paused.push(PausedSpan { from, until: None });
        let left_at_pause = c.working_days_left(cal, from);
        for t in [t1, t2] {
            let now = from + TimeDelta::seconds(t);
            prop_assert!(c.is_paused(now));
            prop_assert!(!c.is_breached(cal, now));
            prop_assert_eq!(c.working_days_left(cal, now), left_at_pause);
        }
    }

    #[test]
    fn counting_back_what_was_added(a in any_date(), n in 0u32..=800) {
        let cal = calendar();
        let w = cal.add_working_days(a, n);
        prop_assert_eq!(cal.working_days_between(a, w.date), i64::from(n));
        prop_assert_eq!(cal.working_days_between(w.date, a), -i64::from(n));
        if n > 0 {
            prop_assert!(w.date > a);
            prop_assert!(cal.is_working_day(w.date));
            prop_assert!(cal.add_working_days(a, n + 1).date > w.date);
        }
        prop_assert_eq!(w.provisional, cal.provisional_within(a, w.date));
    }

    #[test]
    fn between_counts_working_days(a in any_date(), len in 0i64..=120) {
        let cal = calendar();
        let b = a + TimeDelta::days(len);
        let counted = a.iter_days().skip(1).take_while(|d| *d <= b).filter(|d| cal.is_working_day(*d)).count();
        prop_assert_eq!(cal.working_days_between(a, b), counted as i64);
    }
}
