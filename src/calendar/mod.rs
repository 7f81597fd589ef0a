//! Working-day calendar and response-clock arithmetic (DESIGN.md, "Deadline law").
//!
//! The rules (clock, data, explain, law, lunar, provisional, working) are pure: no file,
//! database or network access, and never the system clock; `now` is passed in. `runtime` (where
//! the years come from, the live handle) and `routes` (HTTP) are the I/O edge.
//! Official years come from the State Council's annual notices (`config/calendar/cn-<year>.toml`);
//! a supported year without one is derived from the holiday law and flagged provisional.
//!
//! Weekends are Saturday and Sunday throughout; the six-day week before May 1995 is not modelled.

mod clock;
mod data;
mod error;
mod explain;
pub mod law;
pub mod lunar;
mod provisional;
pub mod routes;
pub mod runtime;
mod serde_date;
mod working;

use std::ops::RangeInclusive;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

pub use clock::{Clock, Cutoff, Due, PausedSpan};
pub use data::{CalendarYear, MakeupWorkday, Notice, OffDay};
pub use error::CalendarError;
pub use explain::{
    Bilingual, CalendarVersion, DayReason, ExplainedDay, ExplainedPause, Explanation, RECEIPT_DAY_NOT_COUNTED,
};
pub use law::{Holiday, LawVersion};
pub use working::{DayKind, WorkingCalendar, WorkingDate};

/// Asia/Shanghai has been UTC+8 without daylight saving time since 1991.
pub const SHANGHAI_OFFSET_SECS: i32 = 8 * 3600;

/// Years with their own data, official or provisional (the range the lunar table covers).
pub const SUPPORTED_YEARS: RangeInclusive<i32> = lunar::FIRST_YEAR..=lunar::LAST_YEAR;

const SHANGHAI: FixedOffset = match FixedOffset::east_opt(SHANGHAI_OFFSET_SECS) {
    Some(offset) => offset,
    None => panic!("invalid offset"),
};

pub fn shanghai() -> FixedOffset {
    SHANGHAI
}

/// The instant a calendar day starts in Asia/Shanghai (its local midnight).
pub fn start_of_local_day(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(SHANGHAI)
        .single()
        .expect("a fixed offset is never ambiguous")
        .with_timezone(&Utc)
}

/// The calendar date of `instant` in Asia/Shanghai.
pub fn local_date(instant: DateTime<Utc>) -> NaiveDate {
    instant.with_timezone(&SHANGHAI).date_naive()
}
