//! Dates that read from a TOML date literal (`date = 2026-01-01`) as well as from a string
//! (`"2026-01-01"`, as JSON has it). They serialise as strings.

use std::fmt;

use chrono::NaiveDate;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serializer};

struct DateVisitor;

impl<'de> Visitor<'de> for DateVisitor {
    type Value = NaiveDate;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a date YYYY-MM-DD")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<NaiveDate, E> {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| E::custom(format!("invalid date {s:?}: {e}")))
    }

    // toml hands its date literals over as a one-entry map; let toml's own type read it.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NaiveDate, A::Error> {
        let dt = toml::value::Datetime::deserialize(de::value::MapAccessDeserializer::new(map))?;
        match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
                .ok_or_else(|| de::Error::custom(format!("invalid date {dt}"))),
            _ => Err(de::Error::custom(format!("expected a date without time, got {dt}"))),
        }
    }
}

struct Date(NaiveDate);

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DateVisitor).map(Date)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    Date::deserialize(d).map(|x| x.0)
}

pub fn serialize<S: Serializer>(date: &NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&date.format("%Y-%m-%d"))
}

pub mod option {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        Option::<Date>::deserialize(d).map(|x| x.map(|x| x.0))
    }

    pub fn serialize<S: Serializer>(date: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(d) => s.collect_str(&d.format("%Y-%m-%d")),
            None => s.serialize_none(),
        }
    }
}
