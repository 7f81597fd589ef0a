//! The response clock of a complaint (DESIGN.md, "Deadline law").
//!
//! The local date of receipt is not counted; day 1 is the first working day after it; the clock
//! is due at the cutoff of the N-th counted working day. While paused, working days after the
//! pause date up to and including the resume date are not counted: the pause date was the
//! department's, and the resume date is treated like a new receipt date. An open pause is
//! projected to resume `now`. So a pause never shortens a clock, and one that starts on or after
//! the due date does not move it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::error::CalendarError;
use super::working::WorkingCalendar;
use super::{local_date, shanghai, SHANGHAI_OFFSET_SECS};

/// When on the due date the clock runs out, in Asia/Shanghai. Written "24:00" or "HH:MM".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Cutoff {
    /// 24:00 local: the whole due date is on time.
    #[default]
    EndOfDay,
    /// A time of day, e.g. the close of office hours.
    At(NaiveTime),
}

impl FromStr for Cutoff {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, CalendarError> {
        let input = s.trim();
        let invalid = |reason| CalendarError::InvalidCutoff { input: s.to_owned(), reason };
        if input == "24:00" || input == "24:00:00" {
            return Ok(Cutoff::EndOfDay);
        }
        let time = NaiveTime::parse_from_str(input, "%H:%M:%S")
            .or_else(|_| NaiveTime::parse_from_str(input, "%H:%M"))
            .map_err(|_| invalid("expected \"24:00\" or a time HH:MM"))?;
        if time == NaiveTime::MIN {
            return Err(invalid("00:00 would leave no time on the due date; use \"24:00\""));
        }
        Ok(Cutoff::At(time))
    }
}

impl fmt::Display for Cutoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cutoff::EndOfDay => f.write_str("24:00"),
            Cutoff::At(t) if t.second() == 0 && t.nanosecond() == 0 => {
                write!(f, "{}", t.format("%H:%M"))
            }
            Cutoff::At(t) => write!(f, "{}", t.format("%H:%M:%S")),
        }
    }
}

impl TryFrom<String> for Cutoff {
    type Error = CalendarError;

    fn try_from(s: String) -> Result<Self, CalendarError> {
        s.parse()
    }
}

impl From<Cutoff> for String {
    fn from(c: Cutoff) -> String {
        c.to_string()
    }
}

impl Cutoff {
    /// The instant at which a clock due on `date` runs out.
    pub fn due_at(self, date: NaiveDate) -> DateTime<FixedOffset> {
        let local = match self {
            Cutoff::EndOfDay => date.succ_opt().unwrap_or(date).and_time(NaiveTime::MIN),
            Cutoff::At(t) => date.and_time(t),
        };
        (local - TimeDelta::seconds(SHANGHAI_OFFSET_SECS.into())).and_utc().with_timezone(&shanghai())
    }
}

/// A span during which the clock was (or is) paused; `until: None` means still paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedSpan {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl PausedSpan {
    /// Local dates (pause date, resume date) for a clock received on `receipt`; working days
    /// `d` with `pause < d <= resume` are not counted. An open span resumes at `now`.
    pub fn local_dates(&self, receipt: NaiveDate, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
        let pause = local_date(self.from).max(receipt);
        let resumed_at = self.until.unwrap_or(now).max(self.from);
        (pause, local_date(resumed_at).max(pause))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub received_at: DateTime<Utc>,
    pub working_days: u32,
    #[serde(default)]
    pub extension_days: u32,
    #[serde(default)]
    pub paused: Vec<PausedSpan>,
    #[serde(default)]
    pub cutoff: Cutoff,
}

/// When a clock is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Due {
    pub due_date: NaiveDate,
    /// In +08:00.
    pub due_at: DateTime<FixedOffset>,
    /// Some counted day lies in a year without official data: the date may still move.
    pub provisional: bool,
}

impl Clock {
    /// A clock of `working_days` received at `received_at`, with no extension or pause.
    pub fn new(received_at: DateTime<Utc>, working_days: u32) -> Self {
        Clock { received_at, working_days, extension_days: 0, paused: Vec::new(), cutoff: Cutoff::EndOfDay }
    }

    pub fn receipt_date(&self) -> NaiveDate {
        local_date(self.received_at)
    }

    /// Working days to count: the period plus extensions.
    pub fn total_days(&self) -> u32 {
        self.working_days.saturating_add(self.extension_days)
    }

    /// Merged, sorted (pause date, resume date) spans that skip at least one day.
    pub(super) fn pause_spans(&self, now: DateTime<Utc>) -> Vec<(NaiveDate, NaiveDate)> {
        let receipt = self.receipt_date();
        let mut spans: Vec<_> =
            self.paused.iter().map(|p| p.local_dates(receipt, now)).filter(|(p, r)| r > p).collect();
        spans.sort_unstable();
        let mut merged: Vec<(NaiveDate, NaiveDate)> = Vec::with_capacity(spans.len());
        for (p, r) in spans {
            match merged.last_mut() {
                Some(last) if p <= last.1 => last.1 = last.1.max(r),
                _ => merged.push((p, r)),
            }
        }
        merged
    }

    pub fn due(&self, cal: &WorkingCalendar, now: DateTime<Utc>) -> Due {
        let receipt = self.receipt_date();
        let n = self.total_days();
        if self.paused.is_empty() {
            // The hot path: no allocation.
            let w = cal.add_working_days(receipt, n);
            return Due { due_date: w.date, due_at: self.cutoff.due_at(w.date), provisional: w.provisional };
        }
        let due_date = due_with_pauses(cal, receipt, n, &self.pause_spans(now));
        Due { due_date, due_at: self.cutoff.due_at(due_date), provisional: cal.provisional_within(receipt, due_date) }
    }

    pub fn is_breached(&self, cal: &WorkingCalendar, now: DateTime<Utc>) -> bool {
        now >= self.due(cal, now).due_at
    }

    pub fn is_paused(&self, now: DateTime<Utc>) -> bool {
        self.paused.iter().any(|p| p.from <= now && p.until.is_none_or(|u| now < u))
    }

    /// Counted working days after today (local) up to and including the due date: 0 on the
    /// due date. Once breached it is negative: −1 from the breach through the first working day
    /// after the due date, −k on the k-th. It does not move while a pause that began before the
    /// due date lasts.
    pub fn working_days_left(&self, cal: &WorkingCalendar, now: DateTime<Utc>) -> i64 {
        let due = self.due(cal, now);
        let today = local_date(now);
        if now >= due.due_at {
            return -cal.working_days_between(due.due_date, today).max(1);
        }
        let paused: i64 = self
            .pause_spans(now)
            .iter()
            .map(|&(p, r)| {
                let (from, to) = (p.max(today), r.min(due.due_date));
                cal.working_days_between(from, to).max(0)
            })
            .sum();
        (cal.working_days_between(today, due.due_date) - paused).max(0)
    }
}

/// The `n`-th working day after `receipt` that lies in no pause span.
fn due_with_pauses(cal: &WorkingCalendar, receipt: NaiveDate, n: u32, spans: &[(NaiveDate, NaiveDate)]) -> NaiveDate {
    let mut cursor = receipt;
    let mut remaining = i64::from(n);
    for &(pause, resume) in spans {
        if resume <= cursor {
            continue;
        }
        let available = cal.working_days_between(cursor, pause).max(0);
        if remaining <= available {
            break;
        }
        remaining -= available;
        cursor = resume;
    }
    let remaining = u32::try_from(remaining).expect("never more than n");
    cal.add_working_days(cursor, remaining).date
}
