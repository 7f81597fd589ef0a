//! The national holiday law (全国年节及纪念日放假办法) and the days it makes statutory holidays.
//!
//! Only days "for all citizens" matter here. The law has been amended four times; each version
//! applies to the holiday dates on or after the day it came into force.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::lunar;

/// The seven statutory holidays, in the order the law lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holiday {
    NewYear,
    SpringFestival,
    Qingming,
    LabourDay,
    DragonBoat,
    MidAutumn,
    NationalDay,
}

impl Holiday {
    pub const ALL: [Holiday; 7] = [
        Holiday::NewYear,
        Holiday::SpringFestival,
        Holiday::Qingming,
        Holiday::LabourDay,
        Holiday::DragonBoat,
        Holiday::MidAutumn,
        Holiday::NationalDay,
    ];

    pub fn name_zh(self) -> &'static str {
        match self {
            Holiday::NewYear => "元旦",
            Holiday::SpringFestival => "春节",
            Holiday::Qingming => "清明节",
            Holiday::LabourDay => "劳动节",
            Holiday::DragonBoat => "端午节",
            Holiday::MidAutumn => "中秋节",
            Holiday::NationalDay => "国庆节",
        }
    }

    /// The name as Hong Kong, Macao and Taiwan write it (the investor's traditional-Chinese pages).
    pub fn name_zh_hant(self) -> &'static str {
        match self {
            Holiday::NewYear => "元旦",
            Holiday::SpringFestival => "春節",
            Holiday::Qingming => "清明節",
            Holiday::LabourDay => "勞動節",
            Holiday::DragonBoat => "端午節",
            Holiday::MidAutumn => "中秋節",
            Holiday::NationalDay => "國慶節",
        }
    }

    /// English names as used in the State Council's English releases and the reference data.
    pub fn name_en(self) -> &'static str {
        match self {
            Holiday::NewYear => "New Year's Day",
            Holiday::SpringFestival => "Spring Festival",
            Holiday::Qingming => "Tomb-sweeping Day",
            Holiday::LabourDay => "Labour Day",
            Holiday::DragonBoat => "Dragon Boat Festival",
            Holiday::MidAutumn => "Mid-autumn Festival",
            Holiday::NationalDay => "National Day",
        }
    }

    pub fn from_name_zh(name: &str) -> Option<Holiday> {
        Holiday::ALL.into_iter().find(|h| h.name_zh() == name)
    }

    pub fn from_name_en(name: &str) -> Option<Holiday> {
        Holiday::ALL.into_iter().find(|h| h.name_en() == name)
    }
}

/// A version of the holiday law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LawVersion {
    /// 1949 original: 新年 1, 春节 初一–初三, 劳动节 5-1, 国庆 10-1/2.
    Original1949,
    /// 1999 amendment: 劳动节 and 国庆节 3 days each.
    Amended1999,
    /// 2007 amendment: 春节 除夕–初二, 劳动节 1 day, adds 清明, 端午, 中秋.
    Amended2007,
    /// 2013 amendment: 春节 初一–初三.
    Amended2013,
    /// 2024 amendment: 春节 除夕–初三, 劳动节 5-1/2.
    Amended2024,
}

impl LawVersion {
    /// Newest first, so the first whose start is not after a date is in force on it.
    const NEWEST_FIRST: [LawVersion; 5] = [
        LawVersion::Amended2024,
        LawVersion::Amended2013,
        LawVersion::Amended2007,
        LawVersion::Amended1999,
        LawVersion::Original1949,
    ];

    pub fn in_force_from(self) -> NaiveDate {
        let (y, m, d) = match self {
            LawVersion::Original1949 => (1949, 12, 23),
            LawVersion::Amended1999 => (1999, 9, 18),
            LawVersion::Amended2007 => (2008, 1, 1),
            LawVersion::Amended2013 => (2014, 1, 1),
            LawVersion::Amended2024 => (2025, 1, 1),
        };
        NaiveDate::from_ymd_opt(y, m, d).expect("valid law date")
    }

    /// The version in force on `date`, if any.
    pub fn in_force_on(date: NaiveDate) -> Option<LawVersion> {
        Self::NEWEST_FIRST.into_iter().find(|v| v.in_force_from() <= date)
    }

    pub fn title_zh(self) -> &'static str {
        match self {
            LawVersion::Original1949 => "《全国年节及纪念日放假办法》（1949年）",
            LawVersion::Amended1999 => "《全国年节及纪念日放假办法》（1999年修订）",
            LawVersion::Amended2007 => "《全国年节及纪念日放假办法》（2007年修订）",
            LawVersion::Amended2013 => "《全国年节及纪念日放假办法》（2013年修订）",
            LawVersion::Amended2024 => "《全国年节及纪念日放假办法》（2024年修订）",
        }
    }

    pub fn title_en(self) -> &'static str {
        match self {
            LawVersion::Original1949 => "national holiday regulations (1949)",
            LawVersion::Amended1999 => "national holiday regulations (as amended 1999)",
            LawVersion::Amended2007 => "national holiday regulations (as amended 2007)",
            LawVersion::Amended2013 => "national holiday regulations (as amended 2013)",
            LawVersion::Amended2024 => "national holiday regulations (as amended 2024)",
        }
    }

    /// The days of `holiday` in Gregorian `year` under this version (empty if it grants none).
    fn days(self, holiday: Holiday, year: i32) -> Vec<NaiveDate> {
        use LawVersion::*;
        let solar = |m: u32, days: std::ops::RangeInclusive<u32>| -> Vec<NaiveDate> {
            days.filter_map(|d| NaiveDate::from_ymd_opt(year, m, d)).collect()
        };
        let modern = matches!(self, Amended2007 | Amended2013 | Amended2024);
        match holiday {
            Holiday::NewYear => solar(1, 1..=1),
            Holiday::SpringFestival => {
                // Offsets from 正月初一; -1 is 除夕, whatever its lunar day number.
                let offsets = match self {
                    Amended2007 => -1..=1,
                    Amended2024 => -1..=2,
                    Original1949 | Amended1999 | Amended2013 => 0..=2,
                };
                let Some(first) = lunar::new_year(year) else {
                    return Vec::new();
                };
                offsets.filter_map(|o: i64| first.checked_add_signed(chrono::TimeDelta::days(o))).collect()
            }
            Holiday::Qingming if modern => lunar::qingming(year).into_iter().collect(),
            Holiday::LabourDay => match self {
                Amended1999 => solar(5, 1..=3),
                Amended2024 => solar(5, 1..=2),
                Original1949 | Amended2007 | Amended2013 => solar(5, 1..=1),
            },
            Holiday::DragonBoat if modern => lunar::to_gregorian(year, 5, 5).into_iter().collect(),
            Holiday::MidAutumn if modern => lunar::to_gregorian(year, 8, 15).into_iter().collect(),
            Holiday::NationalDay => match self {
                Original1949 => solar(10, 1..=2),
                _ => solar(10, 1..=3),
            },
            Holiday::Qingming | Holiday::DragonBoat | Holiday::MidAutumn => Vec::new(),
        }
    }
}

/// One day the law makes a holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LawDay {
    pub date: NaiveDate,
    pub holiday: Holiday,
    pub law: LawVersion,
}

/// Every statutory holiday day of `year` (before any weekend substitution), sorted by date and
/// then by the law's order of holidays. Two holidays can share a day (中秋 on 10-01 in 2020).
/// `None` when the year is outside the lunar table's range.
pub fn law_days(year: i32) -> Option<Vec<LawDay>> {
    if !(lunar::FIRST_YEAR..=lunar::LAST_YEAR).contains(&year) {
        return None;
    }
    let mut out = Vec::new();
    for version in LawVersion::NEWEST_FIRST {
        let from = version.in_force_from();
        let until = LawVersion::NEWEST_FIRST
            .into_iter()
            .filter(|v| v.in_force_from() > from)
            .map(LawVersion::in_force_from)
            .min();
        for holiday in Holiday::ALL {
            for date in version.days(holiday, year) {
                let in_force = from <= date && until.is_none_or(|u| date < u);
                if in_force && date.year() == year {
                    out.push(LawDay { date, holiday, law: version });
                }
            }
        }
    }
    out.sort_by_key(|d| (d.date, d.holiday));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(year: i32) -> Vec<String> {
        law_days(year).unwrap().iter().map(|d| format!("{} {}", d.date.format("%m-%d"), d.holiday.name_zh())).collect()
    }

    #[test]
    fn law_2027_under_the_2024_amendment() {
        assert_eq!(
            dates(2027),
            [
                "01-01 元旦",
                "02-05 春节",
                "02-06 春节",
                "02-07 春节",
                "02-08 春节",
                "04-05 清明节",
                "05-01 劳动节",
                "05-02 劳动节",
                "06-09 端午节",
                "09-15 中秋节",
                "10-01 国庆节",
                "10-02 国庆节",
                "10-03 国庆节",
            ]
        );
    }

    #[test]
    fn versions_by_year() {
        assert_eq!(law_days(2024).unwrap().len(), 11);
        assert_eq!(law_days(2010).unwrap().len(), 11);
        assert_eq!(law_days(2005).unwrap().len(), 10);
        assert_eq!(law_days(1990).unwrap().len(), 7);
        // 1999: the amendment came into force on 18 September, in time for National Day only.
        let d1999 = law_days(1999).unwrap();
        assert_eq!(d1999.len(), 8);
        assert!(d1999.iter().all(|d| d.holiday != Holiday::LabourDay || d.date.day() == 1));
        // 2010 (2007 version): 除夕 is off.
        assert_eq!(law_days(2010).unwrap()[1].date.to_string(), "2010-02-13");
        // 2020: 中秋 and 国庆 share 10-01.
        let shared: Vec<_> = law_days(2020)
            .unwrap()
            .into_iter()
            .filter(|d| d.date.to_string() == "2020-10-01")
            .map(|d| d.holiday)
            .collect();
        assert_eq!(shared, [Holiday::MidAutumn, Holiday::NationalDay]);
        assert!(law_days(1949).is_none());
        assert!(law_days(2100).is_none());
    }

    #[test]
    fn names_round_trip() {
        for h in Holiday::ALL {
            assert_eq!(Holiday::from_name_zh(h.name_zh()), Some(h));
            assert_eq!(Holiday::from_name_en(h.name_en()), Some(h));
        }
    }
}
