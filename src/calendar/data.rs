//! One year of official holiday data, as published in the State Council's annual notice, and the
//! rules every such year must satisfy.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::error::CalendarError;
use super::law::{self, Holiday};
use super::{serde_date, SUPPORTED_YEARS};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarYear {
    pub year: i32,
    pub notice: Notice,
    #[serde(rename = "off_day", default)]
    pub off_days: Vec<OffDay>,
    #[serde(rename = "makeup_workday", default)]
    pub makeup_workdays: Vec<MakeupWorkday>,
    /// Derived from the holiday law because no notice is loaded for the year.
    #[serde(default)]
    pub provisional: bool,
}

/// The notice the year's data comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    pub title: String,
    pub title_en: String,
    #[serde(default, with = "serde_date::option", skip_serializing_if = "Option::is_none")]
    pub issued: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A day off: a statutory holiday, or a weekend day inside a holiday span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffDay {
    #[serde(with = "serde_date")]
    pub date: NaiveDate,
    pub name_zh: String,
    pub name_en: String,
}

/// A Saturday or Sunday that is a working day (调休上班), and the holiday it pays for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeupWorkday {
    #[serde(with = "serde_date")]
    pub date: NaiveDate,
    pub for_zh: String,
    pub for_en: String,
}

pub(crate) fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl CalendarYear {
    /// Parses one year's TOML and validates it.
    pub fn from_toml_str(s: &str) -> Result<Self, CalendarError> {
        let year: CalendarYear = toml::from_str(s)?;
        year.validate()?;
        Ok(year)
    }

    /// The year as TOML in the layout of the shipped files (dates as TOML date literals).
    pub fn to_toml_string(&self) -> String {
        let q = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(out, "year = {}", self.year);
        if self.provisional {
            out.push_str("provisional = true\n");
        }
        let n = &self.notice;
        let _ = write!(out, "\n[notice]\ntitle = {}\ntitle_en = {}\n", q(&n.title), q(&n.title_en));
        if let Some(issued) = n.issued {
            let _ = writeln!(out, "issued = {issued}");
        }
        if let Some(url) = &n.url {
            let _ = writeln!(out, "url = {}", q(url));
        }
        for d in &self.off_days {
            let _ = write!(
                out,
                "\n[[off_day]]\ndate = {}\nname_zh = {}\nname_en = {}\n",
                d.date,
                q(&d.name_zh),
                q(&d.name_en)
            );
        }
        for d in &self.makeup_workdays {
            let _ = write!(
                out,
                "\n[[makeup_workday]]\ndate = {}\nfor_zh = {}\nfor_en = {}\n",
                d.date,
                q(&d.for_zh),
                q(&d.for_en)
            );
        }
        out
    }

    /// A short, stable hash of the content (order of entries ignored), so that an explanation
    /// can say which calendar data it used: FNV-1a 64 of the canonical TOML, 12 hex digits.
    pub fn version(&self) -> String {
        let mut canonical = self.clone();
        canonical.off_days.sort_by_key(|d| d.date);
        canonical.makeup_workdays.sort_by_key(|d| d.date);
        let hash = canonical
            .to_toml_string()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        format!("{hash:016x}")[..12].to_owned()
    }

    /// Checks the rules every year's data must satisfy; the error names the first date that
    /// breaks one.
    pub fn validate(&self) -> Result<(), CalendarError> {
        let year = self.year;
        if !SUPPORTED_YEARS.contains(&year) {
            return Err(CalendarError::OutOfRange { year, min: *SUPPORTED_YEARS.start(), max: *SUPPORTED_YEARS.end() });
        }
        let off = self.check_dates(self.off_days.iter().map(|d| d.date), "off day")?;
        let makeup = self.check_dates(self.makeup_workdays.iter().map(|d| d.date), "make-up workday")?;
        if let Some(&date) = off.intersection(&makeup).next() {
            return Err(CalendarError::OffAndMakeup { year, date });
        }
        self.check_names()?;
        if let Some(d) = self.makeup_workdays.iter().find(|d| !is_weekend(d.date)) {
            return Err(CalendarError::MakeupOnWeekday { year, date: d.date, weekday: d.date.weekday() });
        }
        self.check_spans(&off)?;
        self.check_law_days(&off)
    }

    fn check_dates(
        &self,
        dates: impl Iterator<Item = NaiveDate>,
        what: &'static str,
    ) -> Result<BTreeSet<NaiveDate>, CalendarError> {
        let year = self.year;
        let mut seen = BTreeSet::new();
        for date in dates {
            if date.year() != year {
                return Err(CalendarError::DateOutsideYear { year, date, what });
            }
            if !seen.insert(date) {
                return Err(CalendarError::DuplicateDate { year, date, what });
            }
        }
        Ok(seen)
    }

    fn check_names(&self) -> Result<(), CalendarError> {
        let names = self
            .off_days
            .iter()
            .map(|d| (d.date, [("name_zh", &d.name_zh), ("name_en", &d.name_en)]))
            .chain(self.makeup_workdays.iter().map(|d| (d.date, [("for_zh", &d.for_zh), ("for_en", &d.for_en)])));
        for (date, fields) in names {
            if let Some((field, _)) = fields.iter().find(|(_, v)| v.trim().is_empty()) {
                return Err(CalendarError::EmptyName { year: self.year, date, field });
            }
            // Names reach pages, emails and explanations: plain, short text only.
            if let Some((field, _)) =
                fields.iter().find(|(_, v)| v.chars().count() > 100 || v.chars().any(char::is_control))
            {
                return Err(CalendarError::BadName { year: self.year, date, field });
            }
        }
        Ok(())
    }

    /// Each holiday's off days form one span with no working day inside. 元旦 is the one holiday
    /// that may occur twice in a year: its span for the next year can start in late December.
    fn check_spans(&self, off: &BTreeSet<NaiveDate>) -> Result<(), CalendarError> {
        let mut spans: BTreeMap<(&str, bool), (NaiveDate, NaiveDate, &str)> = BTreeMap::new();
        for d in &self.off_days {
            let next_new_year = d.name_zh == Holiday::NewYear.name_zh() && d.date.month() == 12;
            let span = spans.entry((d.name_zh.as_str(), next_new_year)).or_insert((d.date, d.date, d.name_en.as_str()));
            span.0 = span.0.min(d.date);
            span.1 = span.1.max(d.date);
        }
        let mut gaps: Vec<_> = spans
            .iter()
            .filter_map(|(&(name_zh, _), &(first, last, name_en))| {
                first
                    .iter_days()
                    .take_while(|d| *d <= last)
                    .find(|d| !off.contains(d))
                    .map(|date| (date, name_zh, name_en, first, last))
            })
            .collect();
        gaps.sort();
        match gaps.first() {
            Some(&(date, name_zh, name_en, first, last)) => Err(CalendarError::GapInHoliday {
                year: self.year,
                date,
                name_zh: name_zh.to_owned(),
                name_en: name_en.to_owned(),
                first,
                last,
            }),
            None => Ok(()),
        }
    }

    fn check_law_days(&self, off: &BTreeSet<NaiveDate>) -> Result<(), CalendarError> {
        let days = law::law_days(self.year).ok_or(CalendarError::OutOfRange {
            year: self.year,
            min: *SUPPORTED_YEARS.start(),
            max: *SUPPORTED_YEARS.end(),
        })?;
        match days.into_iter().find(|d| !off.contains(&d.date)) {
            Some(d) => Err(CalendarError::MissingLawDay {
                year: self.year,
                date: d.date,
                holiday_zh: d.holiday.name_zh(),
                holiday_en: d.holiday.name_en(),
                law: d.law.title_en(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped_2026() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/calendar/cn-2026.toml"))
            .expect("shipped file")
    }

    #[test]
    fn holiday_names_are_plain_short_text() {
        let good = shipped_2026();
        assert!(CalendarYear::from_toml_str(&good).is_ok());
        let nul = good.replacen("name_en = \"New Year's Day\"", "name_en = \"New Year\\u0000s Day\"", 1);
        assert!(
            matches!(CalendarYear::from_toml_str(&nul), Err(CalendarError::BadName { field: "name_en", .. })),
            "a NUL in a name"
        );
        let long = good.replacen("name_en = \"New Year's Day\"", &format!("name_en = \"{}\"", "x".repeat(101)), 1);
        assert!(
            matches!(CalendarYear::from_toml_str(&long), Err(CalendarError::BadName { .. })),
            "a 101-character name"
        );
    }
}
