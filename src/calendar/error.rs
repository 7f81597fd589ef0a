//! Errors of the calendar module. Messages name the year, the date and the rule broken, because
//! an administrator reads them after uploading a year's data.

use chrono::{NaiveDate, Weekday};

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar TOML could not be read: {0}")]
    Toml(#[from] toml::de::Error),

    #[error("year {year} is outside the supported range {min}–{max}")]
    OutOfRange { year: i32, min: i32, max: i32 },

    #[error("year {year} is given more than once")]
    DuplicateYear { year: i32 },

    #[error("year {year}: {what} {date} is not in {year}")]
    DateOutsideYear { year: i32, date: NaiveDate, what: &'static str },

    #[error("year {year}: {date} is listed more than once as {what}")]
    DuplicateDate { year: i32, date: NaiveDate, what: &'static str },

    #[error("year {year}: {date} is listed both as an off day and as a make-up workday")]
    OffAndMakeup { year: i32, date: NaiveDate },

    #[error("year {year}: {date} has an empty {field}")]
    EmptyName { year: i32, date: NaiveDate, field: &'static str },

    #[error("year {year}: the {field} of {date} must be plain text of at most 100 characters (no control characters)")]
    BadName { year: i32, date: NaiveDate, field: &'static str },

    #[error(
        "year {year}: make-up workday {date} is a {}; make-up workdays must fall on a Saturday or Sunday",
        weekday_name(*.weekday)
    )]
    MakeupOnWeekday { year: i32, date: NaiveDate, weekday: Weekday },

    #[error(
        "year {year}: {date} lies inside the {name_zh} ({name_en}) span {first}–{last} but is not an off day; \
         a holiday's off days must form one contiguous span, weekend days included"
    )]
    GapInHoliday { year: i32, date: NaiveDate, name_zh: String, name_en: String, first: NaiveDate, last: NaiveDate },

    #[error("year {year}: {date} is {holiday_zh} ({holiday_en}) under {law}, but it is not listed as an off day")]
    MissingLawDay { year: i32, date: NaiveDate, holiday_zh: &'static str, holiday_en: &'static str, law: &'static str },

    #[error("invalid cutoff {input:?}: {reason}")]
    InvalidCutoff { input: String, reason: &'static str },
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}
