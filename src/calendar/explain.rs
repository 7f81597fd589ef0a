//! A day-by-day account of how a clock's due date was reached, for staff and investors.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use serde::Serialize;

use super::clock::{Clock, Cutoff};
use super::shanghai;
use super::working::{DayKind, WorkingCalendar};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bilingual {
    pub zh: &'static str,
    pub en: &'static str,
}

pub const RECEIPT_DAY_NOT_COUNTED: Bilingual = Bilingual {
    zh: "受理当日不计入期间，自次日起算（《民法典》第二百零一条）；其后第一个工作日为第1日",
    en: "The day of receipt is not counted (Civil Code art. 201); day 1 is the first working day after it",
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The instant the explanation was made for; an open pause is projected to resume then.
    pub as_of: DateTime<FixedOffset>,
    pub received_at: DateTime<FixedOffset>,
    pub receipt_date: NaiveDate,
    pub receipt_day_not_counted_reason: Bilingual,
    pub working_days: u32,
    pub extension_days: u32,
    pub cutoff: Cutoff,
    pub pauses: Vec<ExplainedPause>,
    /// Every day after the receipt date up to and including the due date.
    pub days: Vec<ExplainedDay>,
    pub due_date: NaiveDate,
    pub due_at: DateTime<FixedOffset>,
    pub provisional: bool,
    pub breached: bool,
    pub working_days_left: i64,
    /// The calendar data used, per year from the receipt date to the due date.
    pub calendar_versions: Vec<CalendarVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedDay {
    pub date: NaiveDate,
    pub counted: bool,
    /// 1..=N for counted days.
    pub ordinal: Option<u32>,
    pub reason: DayReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayReason {
    Counted,
    CountedMakeupWorkday {
        for_zh: String,
        for_en: String,
    },
    Weekend,
    Holiday {
        name_zh: String,
        name_en: String,
    },
    /// A working day skipped because the clock was paused.
    Paused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainedPause {
    pub from: DateTime<FixedOffset>,
    pub until: Option<DateTime<FixedOffset>>,
    /// Still paused; projected to resume at `as_of`.
    pub open: bool,
    /// Working days after `pause_date` up to and including `resume_date` are not counted.
    pub pause_date: NaiveDate,
    pub resume_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalendarVersion {
    pub year: i32,
    /// [`super::CalendarYear::version`], or "none" outside the supported years.
    pub version: String,
    pub provisional: bool,
}

impl Clock {
    pub fn explain(&self, cal: &WorkingCalendar, now: DateTime<Utc>) -> Explanation {
        let due = self.due(cal, now);
        let receipt = self.receipt_date();
        let spans = self.pause_spans(now);
        let mut ordinal = 0;
        let days = receipt
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= due.due_date)
            .map(|date| {
                let kind = cal.day_kind(date);
                let paused = spans.iter().any(|&(p, r)| p < date && date <= r);
                let reason = match kind {
                    _ if paused && kind.is_working() => DayReason::Paused,
                    DayKind::Working => DayReason::Counted,
                    DayKind::MakeupWorkday { for_zh, for_en } => DayReason::CountedMakeupWorkday { for_zh, for_en },
                    DayKind::Weekend => DayReason::Weekend,
                    DayKind::Holiday { name_zh, name_en } => DayReason::Holiday { name_zh, name_en },
                };
                let counted = matches!(reason, DayReason::Counted | DayReason::CountedMakeupWorkday { .. });
                if counted {
                    ordinal += 1;
                }
                ExplainedDay { date, counted, ordinal: counted.then_some(ordinal), reason }
            })
            .collect();
        let pauses = self
            .paused
            .iter()
            .map(|p| {
                let (pause_date, resume_date) = p.local_dates(receipt, now);
                ExplainedPause {
                    from: p.from.with_timezone(&shanghai()),
                    until: p.until.map(|u| u.with_timezone(&shanghai())),
                    open: p.until.is_none(),
                    pause_date,
                    resume_date,
                }
            })
            .collect();
        let calendar_versions = (receipt.year()..=due.due_date.year())
            .map(|year| CalendarVersion {
                year,
                version: cal.version(year).unwrap_or("none").to_owned(),
                provisional: cal.is_provisional(year),
            })
            .collect();
        Explanation {
            as_of: now.with_timezone(&shanghai()),
            received_at: self.received_at.with_timezone(&shanghai()),
            receipt_date: receipt,
            receipt_day_not_counted_reason: RECEIPT_DAY_NOT_COUNTED,
            working_days: self.working_days,
            extension_days: self.extension_days,
            cutoff: self.cutoff,
            pauses,
            days,
            due_date: due.due_date,
            due_at: due.due_at,
            provisional: due.provisional,
            breached: now >= due.due_at,
            working_days_left: self.working_days_left(cal, now),
            calendar_versions,
        }
    }
}
