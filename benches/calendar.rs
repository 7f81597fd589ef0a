//! Cost of the response-clock arithmetic on the hot paths: a 7-working-day due date (every
//! inbox row and sweep needs one), the same with a pause, and a full explanation.

use std::hint::black_box;

use anshang::calendar::{CalendarYear, Clock, PausedSpan, WorkingCalendar};
use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};

fn shipped_years() -> Vec<CalendarYear> {
    (2017..=2026)
        .map(|y| {
            let path = format!("{}/config/calendar/cn-{y}.toml", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            CalendarYear::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn bench(c: &mut Criterion) {
    let cal = WorkingCalendar::new(shipped_years()).unwrap();
    // Received the day before National Day: the due date walks over the whole holiday.
    let clock = Clock::new(at("2026-09-30T17:00:00+08:00"), 7);
    let now = at("2026-10-09T10:00:00+08:00");
    let mut paused = clock.clone();
    paused
        .paused
        .push(PausedSpan { from: at("2026-10-08T11:00:00+08:00"), until: Some(at("2026-10-09T09:00:00+08:00")) });

    c.bench_function("due_7_working_days", |b| b.iter(|| black_box(&clock).due(&cal, black_box(now))));
    c.bench_function("due_7_working_days_paused", |b| b.iter(|| black_box(&paused).due(&cal, black_box(now))));
    c.bench_function("explain_7_working_days", |b| b.iter(|| black_box(&clock).explain(&cal, black_box(now))));
    c.bench_function("working_calendar_new", |b| b.iter(|| WorkingCalendar::new(black_box(shipped_years())).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
