//! The monthly ranking and the bi-monthly report to the level above (MOFCOM 2020 No. 3 asks
//! local complaint bodies to report every two months).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::error::{AssessmentError, AssessmentResult};
use super::gather::{self, local_range};
use super::score::{ClockOutcome, Formula};
use crate::calendar::WorkingCalendar;
use crate::complaints::state::Status;
use crate::db::schema::{complaint_assignments, complaints};
use crate::db::DbConnection;

/// "2026-10" → its first day.
pub fn parse_month(field: &str, s: &str) -> AssessmentResult<NaiveDate> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .map_err(|_| AssessmentError::invalid(field, "invalid_month", "a month such as 2026-10"))
}

fn next_month(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(n)).expect("in range")
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct MonthlyRow {
    pub department_id: String,
    pub name_zh: String,
    pub name_en: String,
    /// Complaints assigned to the department in the month.
    pub received: usize,
    /// Of the month's clocks: replied, and replied on time.
    pub replied: usize,
    pub replied_on_time: usize,
    /// Complaints it holds that are overdue now.
    pub overdue_now: usize,
    pub average_working_days_to_reply: Option<f64>,
    pub satisfaction_rate: Option<f64>,
    pub contests: usize,
    /// From the year's assessment (finalised, or computed now).
    pub conduct_index: Option<f64>,
    /// None (and no rank) for a department without a conduct score: not enough valid votes.
    pub score: Option<f64>,
    pub rank: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct MonthlyReport {
    pub month: String,
    pub rows: Vec<MonthlyRow>,
}

pub fn monthly(
    conn: &mut DbConnection,
    cal: &WorkingCalendar,
    formula: &Formula,
    month: NaiveDate,
    now: DateTime<Utc>,
) -> AssessmentResult<MonthlyReport> {
    let end = next_month(month, 1);
    let clocks = gather::clock_records(conn, cal, month, end, now)?;
    let (start_db, end_db) = local_range(month, end);
    let received: BTreeMap<String, usize> = complaint_assignments::table
        .filter(complaint_assignments::assigned_at.ge(start_db))
        .filter(complaint_assignments::assigned_at.lt(end_db))
        .select(complaint_assignments::department_id)
        .load::<String>(conn)?
        .into_iter()
        .fold(BTreeMap::new(), |mut m, d| {
            *m.entry(d).or_insert(0) += 1;
            m
        });
    let overdue: BTreeMap<String, usize> = complaints::table
        .filter(complaints::overdue.eq(true))
        .filter(complaints::status.eq_any([Status::Assigned, Status::AwaitingInvestor]))
        .filter(complaints::department_id.is_not_null())
        .select(complaints::department_id.assume_not_null())
        .load::<String>(conn)?
        .into_iter()
        .fold(BTreeMap::new(), |mut m, d| {
            *m.entry(d).or_insert(0) += 1;
            m
        });
    let year = super::report::current(conn, cal, formula, month.year(), now)?;
    let rows = year
        .departments
        .iter()
        .map(|d| {
            let id = &d.score.department_id;
            let mine: Vec<_> = clocks.iter().filter(|c| &c.department_id == id).collect();
            let replies: Vec<_> = mine.iter().filter(|c| c.replied).collect();
            let rated: Vec<_> = replies.iter().filter_map(|c| c.rating.as_deref()).collect();
            let days: Vec<i64> = replies.iter().filter_map(|c| c.working_days_to_reply).collect();
            MonthlyRow {
                department_id: id.clone(),
                name_zh: d.name_zh.clone(),
                name_en: d.name_en.clone(),
                received: received.get(id).copied().unwrap_or(0),
                replied: replies.len(),
                replied_on_time: replies.iter().filter(|c| c.outcome == ClockOutcome::OnTime).count(),
                overdue_now: overdue.get(id).copied().unwrap_or(0),
                average_working_days_to_reply: (!days.is_empty())
                    .then(|| (days.iter().sum::<i64>() as f64 * 100.0 / days.len() as f64).round() / 100.0),
                satisfaction_rate: (!rated.is_empty()).then(|| {
                    (rated.iter().filter(|r| matches!(**r, "satisfied" | "basically_satisfied")).count() as f64
                        * 10000.0
                        / rated.len() as f64)
                        .round()
                        / 100.0
                }),
                contests: replies.iter().filter(|c| c.contested).count(),
                conduct_index: d.score.conduct_index,
                score: d.score.total,
                rank: d.score.rank,
            }
        })
        .collect();
    Ok(MonthlyReport { month: month.format("%Y-%m").to_string(), rows })
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct Terminated {
    pub tracking_number: String,
    /// `rejected` or `withdrawn`.
    pub status: Status,
    pub reason: String,
}

/// Totals for the report to the level above, for complaints received in the two months.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct BimonthlyReport {
    pub from: String,
    pub to: String,
    pub received: usize,
    /// Accepted: assigned to a department at least once.
    pub accepted: usize,
    /// Concluded: closed.
    pub concluded: usize,
    pub in_progress: usize,
    pub terminated: Vec<Terminated>,
    pub overdue: usize,
}

pub fn bimonthly(conn: &mut DbConnection, from: NaiveDate) -> AssessmentResult<BimonthlyReport> {
    let to = next_month(from, 2);
    let (start, end) = local_range(from, to);
    let rows: Vec<(crate::ids::ComplaintId, String, Status, bool, Option<String>)> = complaints::table
        .filter(complaints::received_at.ge(start))
        .filter(complaints::received_at.lt(end))
        .order(complaints::tracking_number.asc())
        .select((
            complaints::id,
            complaints::tracking_number,
            complaints::status,
            complaints::overdue,
            complaints::reply_text,
        ))
        .load(conn)?;
    let assigned: std::collections::BTreeSet<crate::ids::ComplaintId> = complaint_assignments::table
        .filter(
            complaint_assignments::complaint_id.eq_any(
                complaints::table
                    .filter(complaints::received_at.ge(start))
                    .filter(complaints::received_at.lt(end))
                    .select(complaints::id),
            ),
        )
        .select(complaint_assignments::complaint_id)
        .load::<crate::ids::ComplaintId>(conn)?
        .into_iter()
        .collect();
    let mut terminated = Vec::new();
    for (id, number, status, _, reply) in &rows {
        match status {
            Status::Rejected => terminated.push(Terminated {
                tracking_number: number.clone(),
                status: *status,
                reason: reply.clone().unwrap_or_default(),
            }),
            Status::Withdrawn => {
                let reason = crate::complaints::events::for_complaint(conn, id)?
                    .iter()
                    .rev()
                    .find(|e| e.action == "withdraw")
                    .and_then(|e| serde_json::from_str::<serde_json::Value>(&e.detail).ok())
                    .and_then(|d| d["reason"].as_str().map(str::to_string))
                    .unwrap_or_else(|| "withdrawn by the complainant / 投诉人撤回".into());
                terminated.push(Terminated { tracking_number: number.clone(), status: *status, reason });
            }
            _ => {}
        }
    }
    Ok(BimonthlyReport {
        from: from.format("%Y-%m").to_string(),
        to: next_month(from, 1).format("%Y-%m").to_string(),
        received: rows.len(),
        accepted: rows.iter().filter(|r| assigned.contains(&r.0)).count(),
        concluded: rows.iter().filter(|r| r.2 == Status::Closed).count(),
        in_progress: rows
            .iter()
            .filter(|r| !matches!(r.2, Status::Closed | Status::Withdrawn | Status::Rejected))
            .count(),
        overdue: rows.iter().filter(|r| r.3).count(),
        terminated,
    })
}

pub fn bimonthly_csv(r: &BimonthlyReport) -> Vec<u8> {
    let mut w = crate::csv_export::Sheet::with_bom();
    let _ = w.row([
        "期间 period",
        "收到 received",
        "受理 accepted",
        "办结 concluded",
        "办理中 in progress",
        "终止 terminated",
        "超期 overdue",
    ]);
    let _ = w.row([
        format!("{} – {}", r.from, r.to),
        r.received.to_string(),
        r.accepted.to_string(),
        r.concluded.to_string(),
        r.in_progress.to_string(),
        r.terminated.len().to_string(),
        r.overdue.to_string(),
    ]);
    let _ = w.row(["", "", "", "", "", "", ""]);
    let _ = w.row(["终止 terminated: 编号 number", "状态 status", "理由 reason", "", "", "", ""]);
    for t in &r.terminated {
        let _ = w.row([t.tracking_number.as_str(), t.status.as_str(), t.reason.as_str(), "", "", "", ""]);
    }
    w.finish().unwrap_or_default()
}

pub fn bimonthly_html(r: &BimonthlyReport) -> AssessmentResult<String> {
    super::printable::render("bimonthly.html", minijinja::context! { r => r })
}
