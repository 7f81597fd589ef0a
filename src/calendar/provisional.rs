//! A year built from the holiday law alone, for years whose State Council notice is not loaded.
//!
//! The notice usually adds make-up workdays and bridge days that cannot be predicted, so such a
//! year is only an estimate and is flagged `provisional` wherever it is used.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::data::{is_weekend, CalendarYear, Notice, OffDay};
use super::error::CalendarError;
use super::law::{self, Holiday};
use super::SUPPORTED_YEARS;

impl CalendarYear {
    /// The year derived from the holiday law alone: its holidays with weekend substitution
    /// (补假), no make-up workdays. Used, and flagged, when no notice is loaded for the year.
    pub fn provisional(year: i32) -> Result<Self, CalendarError> {
        build(year)
    }
}

fn build(year: i32) -> Result<CalendarYear, CalendarError> {
    let out_of_range = CalendarError::OutOfRange { year, min: *SUPPORTED_YEARS.start(), max: *SUPPORTED_YEARS.end() };
    if !SUPPORTED_YEARS.contains(&year) {
        return Err(out_of_range);
    }
    let law_days = law::law_days(year).ok_or(out_of_range)?;

    // When two holidays share a day, the later one in the law's order keeps it (国庆节 over 中秋节,
    // as the 2020 notice did).
    let mut off: BTreeMap<NaiveDate, Holiday> = law_days.iter().map(|d| (d.date, d.holiday)).collect();

    // 补假: a holiday on a Saturday or Sunday moves to the next weekday not already off.
    let weekend_days: Vec<(NaiveDate, Holiday)> =
        off.iter().filter(|(d, _)| is_weekend(**d)).map(|(d, h)| (*d, *h)).collect();
    for (date, holiday) in weekend_days {
        let substitute = date
            .iter_days()
            .skip(1)
            .find(|d| !is_weekend(*d) && !off.contains_key(d))
            .expect("a weekday follows within a week");
        off.insert(substitute, holiday);
    }

    // List the weekend days inside each holiday's span, as the notices do.
    for holiday in Holiday::ALL {
        let mut days = off.iter().filter(|(_, h)| **h == holiday).map(|(d, _)| *d);
        let Some(first) = days.next() else { continue };
        let last = days.next_back().unwrap_or(first);
        for d in first.iter_days().take_while(|d| *d <= last) {
            off.entry(d).or_insert(holiday);
        }
    }

    let off_days = off
        .into_iter()
        .map(|(date, h)| OffDay { date, name_zh: h.name_zh().to_owned(), name_en: h.name_en().to_owned() })
        .collect();
    Ok(CalendarYear {
        year,
        notice: Notice {
            title: format!("{year}年节假日安排（暂定）：按《全国年节及纪念日放假办法》推算，未含调休"),
            title_en: format!(
                "Provisional {year} holidays, derived from the national holiday regulations \
                 without make-up workdays; the State Council notice for {year} is not loaded"
            ),
            issued: None,
            url: None,
        },
        off_days,
        makeup_workdays: Vec::new(),
        provisional: true,
    })
}
