//! The working-day calendar over the supported years: official years where loaded, provisional
//! years elsewhere. Outside the supported years Mon–Fri count as working days, flagged
//! provisional like any year without a notice.
//!
//! Lookups go through a per-year bitset of working days and a running count of working days, so
//! counting and stepping over N working days is a few popcounts rather than a day-by-day walk.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::data::{is_weekend, CalendarYear};
use super::error::CalendarError;
use super::SUPPORTED_YEARS;

/// What a day is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DayKind {
    Working,
    MakeupWorkday { for_zh: String, for_en: String },
    Weekend,
    Holiday { name_zh: String, name_en: String },
}

impl DayKind {
    pub fn is_working(&self) -> bool {
        matches!(self, DayKind::Working | DayKind::MakeupWorkday { .. })
    }
}

/// A date reached by counting working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkingDate {
    pub date: NaiveDate,
    /// Some day counted over lies in a year without official data.
    pub provisional: bool,
}

/// Immutable and cheap to clone (shared data); rebuild it to replace a year's data.
#[derive(Clone)]
pub struct WorkingCalendar {
    inner: Arc<Inner>,
}

struct Inner {
    years: Vec<Year>,
    /// `before[i]`: working days in the supported years before `years[i]`; one extra at the end.
    before: Vec<i64>,
    /// `provisional_before[i]`: provisional years before `years[i]`; one extra at the end.
    provisional_before: Vec<u32>,
    /// Rank (see [`WorkingCalendar::rank`]) of the day before the first supported year.
    base: i64,
}

struct Year {
    data: CalendarYear,
    version: String,
    /// Bit `ordinal0` is set for a working day.
    working: [u64; 6],
    /// Sorted (date, index into `data.off_days`), and likewise for make-up workdays.
    off: Vec<(NaiveDate, usize)>,
    makeup: Vec<(NaiveDate, usize)>,
}

impl Year {
    fn new(data: CalendarYear) -> Self {
        let mut off: Vec<_> = data.off_days.iter().enumerate().map(|(i, d)| (d.date, i)).collect();
        let mut makeup: Vec<_> = data.makeup_workdays.iter().enumerate().map(|(i, d)| (d.date, i)).collect();
        off.sort_unstable();
        makeup.sort_unstable();
        let mut working = [0u64; 6];
        let first = NaiveDate::from_yo_opt(data.year, 1).expect("supported year");
        for d in first.iter_days().take_while(|d| d.year() == data.year) {
            let is_off = off.binary_search_by_key(&d, |e| e.0).is_ok();
            let is_makeup = makeup.binary_search_by_key(&d, |e| e.0).is_ok();
            if is_makeup || !(is_off || is_weekend(d)) {
                let o = d.ordinal0() as usize;
                working[o / 64] |= 1 << (o % 64);
            }
        }
        Year { version: data.version(), data, working, off, makeup }
    }

    /// Working days on ordinals `0..=ordinal0`.
    fn count_through(&self, ordinal0: u32) -> i64 {
        let (word, bit) = ((ordinal0 / 64) as usize, ordinal0 % 64);
        let full: u32 = self.working[..word].iter().map(|w| w.count_ones()).sum();
        let mask = if bit == 63 { u64::MAX } else { (1u64 << (bit + 1)) - 1 };
        i64::from(full + (self.working[word] & mask).count_ones())
    }

    /// Ordinal0 of the `k`-th working day of the year (1-based); `k` must not exceed the total.
    fn nth_working(&self, mut k: u32) -> u32 {
        for (i, &w) in self.working.iter().enumerate() {
            let ones = w.count_ones();
            if k > ones {
                k -= ones;
                continue;
            }
            let mut w = w;
            for _ in 1..k {
                w &= w - 1;
            }
            return i as u32 * 64 + w.trailing_zeros();
        }
        unreachable!("k exceeds the working days of the year")
    }

    fn total(&self) -> i64 {
        self.working.iter().map(|w| i64::from(w.count_ones())).sum()
    }
}

/// Day number with 0001-01-01 (a Monday) as day 1.
fn day_number(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce())
}

/// Mon–Fri days among day numbers `1..=n` (negative below day 1).
fn weekdays_through(n: i64) -> i64 {
    5 * n.div_euclid(7) + n.rem_euclid(7).min(5)
}

/// The weekday whose [`weekdays_through`] is `t`.
fn nth_weekday(t: i64) -> Option<NaiveDate> {
    let n = 7 * (t - 1).div_euclid(5) + (t - 1).rem_euclid(5) + 1;
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(n).ok()?)
}

impl WorkingCalendar {
    /// Builds the calendar from official years (each validated); every supported year without
    /// official data gets [`CalendarYear::provisional`].
    pub fn new(official: Vec<CalendarYear>) -> Result<Self, CalendarError> {
        let mut given = BTreeMap::new();
        for year in official {
            year.validate()?;
            let y = year.year;
            if given.insert(y, year).is_some() {
                return Err(CalendarError::DuplicateYear { year: y });
            }
        }
        let years = SUPPORTED_YEARS
            .map(|y| given.remove(&y).map_or_else(|| CalendarYear::provisional(y), Ok).map(Year::new))
            .collect::<Result<Vec<_>, _>>()?;
        let mut before = vec![0];
        let mut provisional_before = vec![0];
        for y in &years {
            before.push(before.last().unwrap() + y.total());
            provisional_before.push(provisional_before.last().unwrap() + u32::from(y.data.provisional));
        }
        let day_before = NaiveDate::from_ymd_opt(*SUPPORTED_YEARS.start(), 1, 1)
            .and_then(|d| d.pred_opt())
            .expect("supported range is inside chrono's");
        Ok(WorkingCalendar {
            inner: Arc::new(Inner {
                years,
                before,
                provisional_before,
                base: weekdays_through(day_number(day_before)),
            }),
        })
    }

    /// The years that have their own data (official or provisional).
    pub fn supported_years() -> std::ops::RangeInclusive<i32> {
        SUPPORTED_YEARS
    }

    fn index(&self, year: i32) -> Option<usize> {
        let i = usize::try_from(year.checked_sub(*SUPPORTED_YEARS.start())?).ok()?;
        (i < self.inner.years.len()).then_some(i)
    }

    fn entry(&self, year: i32) -> Option<&Year> {
        self.index(year).map(|i| &self.inner.years[i])
    }

    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        match self.entry(d.year()) {
            Some(y) => {
                let o = d.ordinal0() as usize;
                y.working[o / 64] & (1 << (o % 64)) != 0
            }
            None => !is_weekend(d),
        }
    }

    pub fn day_kind(&self, d: NaiveDate) -> DayKind {
        if let Some(y) = self.entry(d.year()) {
            if let Ok(i) = y.off.binary_search_by_key(&d, |e| e.0) {
                let o = &y.data.off_days[y.off[i].1];
                return DayKind::Holiday { name_zh: o.name_zh.clone(), name_en: o.name_en.clone() };
            }
            if let Ok(i) = y.makeup.binary_search_by_key(&d, |e| e.0) {
                let m = &y.data.makeup_workdays[y.makeup[i].1];
                return DayKind::MakeupWorkday { for_zh: m.for_zh.clone(), for_en: m.for_en.clone() };
            }
        }
        if is_weekend(d) {
            DayKind::Weekend
        } else {
            DayKind::Working
        }
    }

    /// True for a year without official data, including years outside the supported range.
    pub fn is_provisional(&self, year: i32) -> bool {
        self.entry(year).is_none_or(|y| y.data.provisional)
    }

    /// The years in `from..=to` without official data.
    pub fn provisional_years(&self, from: i32, to: i32) -> Vec<i32> {
        (from..=to).filter(|&y| self.is_provisional(y)).collect()
    }

    /// Whether any day `d` with `a < d <= b` lies in a provisional year.
    pub fn provisional_within(&self, a: NaiveDate, b: NaiveDate) -> bool {
        let Some(start) = a.succ_opt().filter(|s| *s <= b) else {
            return false;
        };
        match (self.index(start.year()), self.index(b.year())) {
            (Some(i), Some(j)) => {
                let p = &self.inner.provisional_before;
                p[j + 1] > p[i]
            }
            _ => true,
        }
    }

    /// The data of a supported year (official, or the provisional stand-in).
    pub fn year(&self, year: i32) -> Option<&CalendarYear> {
        self.entry(year).map(|y| &y.data)
    }

    /// [`CalendarYear::version`] of a supported year, computed once.
    pub fn version(&self, year: i32) -> Option<&str> {
        self.entry(year).map(|y| y.version.as_str())
    }

    /// Number of working days up to and including `d`, from a fixed origin; a working day has
    /// a rank one above the working day before it, a non-working day the rank of the one before.
    fn rank(&self, d: NaiveDate) -> i64 {
        let inner = &self.inner;
        match self.index(d.year()) {
            Some(i) => inner.base + inner.before[i] + inner.years[i].count_through(d.ordinal0()),
            None if d.year() < *SUPPORTED_YEARS.start() => weekdays_through(day_number(d)),
            None => {
                let end = NaiveDate::from_ymd_opt(*SUPPORTED_YEARS.end(), 12, 31).expect("valid");
                let end_rank = inner.base + inner.before[inner.years.len()];
                end_rank + weekdays_through(day_number(d)) - weekdays_through(day_number(end))
            }
        }
    }

    /// The working day of rank `t`; `hint` is a year at or before it, where the search starts.
    fn select(&self, t: i64, hint: i32) -> Option<NaiveDate> {
        let inner = &self.inner;
        let k = t - inner.base;
        let total = inner.before[inner.years.len()];
        if k <= 0 {
            return nth_weekday(t);
        }
        if k > total {
            let end = NaiveDate::from_ymd_opt(*SUPPORTED_YEARS.end(), 12, 31).expect("valid");
            return nth_weekday(k - total + weekdays_through(day_number(end)));
        }
        let mut i = self.index(hint).unwrap_or(0);
        while inner.before[i + 1] < k {
            i += 1;
        }
        while inner.before[i] >= k {
            i -= 1;
        }
        let nth = u32::try_from(k - inner.before[i]).expect("within one year");
        let ordinal0 = inner.years[i].nth_working(nth);
        NaiveDate::from_yo_opt(inner.years[i].data.year, ordinal0 + 1)
    }

    /// The `n`-th working day strictly after `from` (`from` itself never counts; `n == 0` gives
    /// `from`). Saturates at `NaiveDate::MAX`, flagged provisional, past chrono's range.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> WorkingDate {
        if n == 0 {
            return WorkingDate { date: from, provisional: false };
        }
        match self.select(self.rank(from) + i64::from(n), from.year()) {
            Some(date) => WorkingDate { date, provisional: self.provisional_within(from, date) },
            None => WorkingDate { date: NaiveDate::MAX, provisional: true },
        }
    }

    /// Working days `d` with `a < d <= b`; the negated count `b < d <= a` when `b < a`.
    pub fn working_days_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        self.rank(b) - self.rank(a)
    }
}

impl fmt::Debug for WorkingCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let official: Vec<i32> = self.inner.years.iter().filter(|y| !y.data.provisional).map(|y| y.data.year).collect();
        f.debug_struct("WorkingCalendar")
            .field("years", &SUPPORTED_YEARS)
            .field("official", &official)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekday_arithmetic_matches_chrono() {
        let start = NaiveDate::from_ymd_opt(1949, 12, 1).unwrap();
        let mut count = weekdays_through(day_number(start));
        for d in start.iter_days().skip(1).take(3000) {
            if !is_weekend(d) {
                count += 1;
                assert_eq!(nth_weekday(count), Some(d));
            }
            assert_eq!(weekdays_through(day_number(d)), count, "{d}");
        }
    }

    #[test]
    fn calendar_is_send_sync() {
        fn check<T: Send + Sync + Clone>() {}
        check::<WorkingCalendar>();
    }
}
