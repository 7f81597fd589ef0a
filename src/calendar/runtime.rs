//! The calendar in a running service (the I/O edge of this otherwise pure module): the years
//! shipped with the binary, files in the calendar directory, and years an administrator stored
//! in the database — later sources replace earlier ones, year by year. Every instance reads the
//! database, so a year loaded through one instance reaches all of them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Datelike, Utc};
use diesel::prelude::*;

use super::{CalendarError, CalendarYear, WorkingCalendar};
use crate::db::schema::calendar_years;
use crate::db::{to_db_time, DbConnection};

/// The official years compiled into the binary, so it works from any directory.
pub const SHIPPED: &[(i32, &str)] = &[
    (2017, include_str!("../../config/calendar/cn-2017.toml")),
    (2018, include_str!("../../config/calendar/cn-2018.toml")),
    (2019, include_str!("../../config/calendar/cn-2019.toml")),
    (2020, include_str!("../../config/calendar/cn-2020.toml")),
    (2021, include_str!("../../config/calendar/cn-2021.toml")),
    (2022, include_str!("../../config/calendar/cn-2022.toml")),
    (2023, include_str!("../../config/calendar/cn-2023.toml")),
    (2024, include_str!("../../config/calendar/cn-2024.toml")),
    (2025, include_str!("../../config/calendar/cn-2025.toml")),
    (2026, include_str!("../../config/calendar/cn-2026.toml")),
];

#[derive(Debug, thiserror::Error)]
pub enum CalendarLoadError {
    #[error("calendar file {file}: {source}")]
    File { file: String, source: CalendarError },
    #[error("calendar file {file} holds another year: name it {expected}")]
    FileName { file: String, expected: String },
    #[error("cannot read calendar file {file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("calendar year {year} stored in the database: {source}")]
    Stored { year: i32, source: CalendarError },
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    #[error("calendar: database: {0}")]
    Database(#[from] diesel::result::Error),
}

/// Where each year's data came from, for `calendar show` and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum YearSource {
    Shipped,
    File,
    Database,
}

/// The official years from all sources, later sources winning.
pub fn official_years(
    config_dir: &Path,
    conn: Option<&mut DbConnection>,
) -> Result<BTreeMap<i32, (CalendarYear, YearSource)>, CalendarLoadError> {
    let mut years = BTreeMap::new();
    for (year, text) in SHIPPED {
        let parsed = CalendarYear::from_toml_str(text)
            .map_err(|source| CalendarLoadError::File { file: format!("cn-{year}.toml (shipped)"), source })?;
        years.insert(*year, (parsed, YearSource::Shipped));
    }
    for (_, parsed) in file_years(config_dir)? {
        years.insert(parsed.year, (parsed, YearSource::File));
    }
    if let Some(conn) = conn {
        for (year, text) in
            calendar_years::table
                .select((calendar_years::year, calendar_years::source_toml))
                .load::<(i32, String)>(conn)?
        {
            let parsed =
                CalendarYear::from_toml_str(&text).map_err(|source| CalendarLoadError::Stored { year, source })?;
            years.insert(year, (parsed, YearSource::Database));
        }
    }
    Ok(years)
}

/// `cn-<year>.toml` files in the calendar directory (missing directory: none).
pub fn file_years(config_dir: &Path) -> Result<Vec<(String, CalendarYear)>, CalendarLoadError> {
    let Ok(entries) = std::fs::read_dir(config_dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !(name.starts_with("cn-") && name.ends_with(".toml")) {
            continue;
        }
        let file = path.display().to_string();
        let text =
            std::fs::read_to_string(&path).map_err(|source| CalendarLoadError::Read { file: file.clone(), source })?;
        let parsed = CalendarYear::from_toml_str(&text)
            .map_err(|source| CalendarLoadError::File { file: file.clone(), source })?;
        if name != format!("cn-{}.toml", parsed.year) {
            return Err(CalendarLoadError::FileName { file, expected: format!("cn-{}.toml", parsed.year) });
        }
        out.push((file, parsed));
    }
    Ok(out)
}

pub fn build(config_dir: &Path, conn: Option<&mut DbConnection>) -> Result<WorkingCalendar, CalendarLoadError> {
    let years = official_years(config_dir, conn)?;
    Ok(WorkingCalendar::new(years.into_values().map(|(y, _)| y).collect())?)
}

/// Stores an official year in the database (replacing an earlier one) and records who did it.
pub fn store_year(
    conn: &mut DbConnection,
    year: &CalendarYear,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), CalendarLoadError> {
    year.validate()?;
    let text = year.to_toml_string();
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        let previous: Option<String> =
            calendar_years::table.find(year.year).select(calendar_years::version).first(conn).optional()?;
        diesel::delete(calendar_years::table.find(year.year)).execute(conn)?;
        diesel::insert_into(calendar_years::table)
            .values((
                calendar_years::year.eq(year.year),
                calendar_years::source_toml.eq(&text),
                calendar_years::version.eq(year.version()),
                calendar_years::loaded_by.eq(actor),
                calendar_years::loaded_at.eq(to_db_time(now)),
            ))
            .execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            actor,
            "calendar.load",
            &format!("calendar:{}", year.year),
            serde_json::json!({"version": year.version(), "previous_version": previous, "notice": year.notice.title}),
        )?;
        Ok::<_, CalendarLoadError>(())
    })
}

/// The calendar every request uses; replaced whole when an administrator loads a year.
pub struct CalendarHandle {
    current: RwLock<Arc<WorkingCalendar>>,
}

impl CalendarHandle {
    pub fn new(calendar: WorkingCalendar) -> Self {
        CalendarHandle { current: RwLock::new(Arc::new(calendar)) }
    }

    pub fn current(&self) -> Arc<WorkingCalendar> {
        self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn replace(&self, calendar: WorkingCalendar) {
        *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(calendar);
    }

    /// Replaces the calendar; true when its official years differ from the current ones (so
    /// stored deadlines must be recomputed).
    pub fn replace_if_changed(&self, calendar: WorkingCalendar) -> bool {
        let changed = fingerprint(&self.current()) != fingerprint(&calendar);
        if changed {
            self.replace(calendar);
        }
        changed
    }
}

/// The versions of the official years: equal fingerprints, equal working days.
fn fingerprint(cal: &WorkingCalendar) -> Vec<(i32, String)> {
    super::SUPPORTED_YEARS.filter_map(|y| cal.year(y).filter(|d| !d.provisional).map(|d| (y, d.version()))).collect()
}

/// Readiness warnings: years that deadlines may reach now (this year and next) without an
/// official notice.
pub fn provisional_warnings(cal: &WorkingCalendar, now: DateTime<Utc>) -> Vec<String> {
    let year = super::local_date(now).year();
    cal.provisional_years(year, year + 1)
        .into_iter()
        .map(|y| format!("calendar: provisional for {y} (no official holiday notice loaded; deadlines reaching {y} are marked provisional)"))
        .collect()
}

/// The answer of `anshang calendar due` and `GET /api/v1/calendar/due`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DueAnswer {
    /// The receipt instant, in +08:00.
    pub received: chrono::DateTime<chrono::FixedOffset>,
    pub working_days: u32,
    /// Local date (Asia/Shanghai).
    pub due_date: chrono::NaiveDate,
    pub due_at: chrono::DateTime<chrono::FixedOffset>,
    /// A counted day lies in a year without an official notice: the date may still move.
    pub provisional: bool,
    #[schema(value_type = Object)]
    pub explanation: super::Explanation,
}

/// An instant that is not RFC 3339.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{raw:?} is not an RFC 3339 instant such as 2026-09-30T17:00:00+08:00 ({source})")]
pub struct InstantError {
    raw: String,
    source: chrono::ParseError,
}

/// Parses an RFC 3339 instant with any offset (`Z` included).
pub fn parse_instant(raw: &str) -> Result<DateTime<Utc>, InstantError> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|source| InstantError { raw: raw.to_string(), source })
}

pub fn due_answer(
    cal: &WorkingCalendar,
    received: DateTime<Utc>,
    working_days: u32,
    cutoff: super::Cutoff,
) -> DueAnswer {
    let mut clock = super::Clock::new(received, working_days);
    clock.cutoff = cutoff;
    // Explained as of receipt: the answer does not depend on when it is asked.
    let explanation = clock.explain(cal, received);
    DueAnswer {
        received: received.with_timezone(&super::shanghai()),
        working_days,
        due_date: explanation.due_date,
        due_at: explanation.due_at,
        provisional: explanation.provisional,
        explanation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reload_reports_a_change_only_when_official_years_differ() {
        let shipped = || build(Path::new("/nonexistent"), None).unwrap();
        let handle = CalendarHandle::new(shipped());
        assert!(!handle.replace_if_changed(shipped()));
        let mut official_2027 = CalendarYear::provisional(2027).unwrap();
        official_2027.provisional = false;
        let mut years: Vec<CalendarYear> =
            SHIPPED.iter().map(|(_, t)| CalendarYear::from_toml_str(t).unwrap()).collect();
        years.push(official_2027);
        assert!(handle.replace_if_changed(WorkingCalendar::new(years).unwrap()));
        assert!(!handle.current().is_provisional(2027));
    }
}
