//! The yearly report: scores with names, red and black lists, the monthly trend, finalised
//! snapshots, and the exports (JSON, CSV with BOM, HTML with server-drawn SVG charts).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::{AssessmentError, AssessmentResult};
use super::gather;
use super::score::{lists, rank, score, DepartmentScore, Formula};
use crate::db::schema::assessment_snapshots;
use crate::db::{to_db_time, DbConnection};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NamedScore {
    pub name_zh: String,
    pub name_en: String,
    #[serde(flatten)]
    pub score: DepartmentScore,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MonthPoint {
    /// YYYY-MM
    pub month: String,
    /// Reply clocks started in the month.
    pub clocks: usize,
    /// Share of the judged ones replied on time, in percent.
    pub on_time_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssessmentReport {
    pub year: i32,
    pub formula: Formula,
    pub computed_at: DateTime<chrono::FixedOffset>,
    /// A finalised snapshot (later data does not change it) or a live computation.
    pub finalized: bool,
    pub version: Option<i32>,
    pub reason: Option<String>,
    pub departments: Vec<NamedScore>,
    /// 红榜: the top departments (ranked ones only, at most half of them).
    pub red_list: Vec<String>,
    /// 黑榜: the bottom departments, worst first (ranked ones only, at most half of them).
    pub black_list: Vec<String>,
    pub trend: Vec<MonthPoint>,
}

impl AssessmentReport {
    /// The scored department `id` (the red and black lists name departments by id).
    pub fn department(&self, id: &str) -> Option<&NamedScore> {
        self.departments.iter().find(|d| d.score.department_id == id)
    }
}

/// Computes the year's report live as of `now`.
pub fn compute(
    conn: &mut DbConnection,
    cal: &crate::calendar::WorkingCalendar,
    formula: &Formula,
    year: i32,
    now: DateTime<Utc>,
) -> AssessmentResult<AssessmentReport> {
    let from = NaiveDate::from_ymd_opt(year, 1, 1)
        .ok_or_else(|| AssessmentError::invalid("year", "out_of_range", "not a year"))?;
    let to = NaiveDate::from_ymd_opt(year + 1, 1, 1)
        .ok_or_else(|| AssessmentError::invalid("year", "out_of_range", "not a year"))?;
    let depts = gather::scored_departments(conn)?;
    let clocks = gather::clock_records(conn, cal, from, to, now)?;
    let rounds = gather::round_results(conn, year)?;
    let ids: Vec<String> = depts.iter().map(|d| d.0.clone()).collect();
    let scores = score(formula, &ids, &clocks, &rounds);
    let named: Vec<NamedScore> = scores
        .into_iter()
        .map(|s| {
            let (_, zh, en) = depts.iter().find(|d| d.0 == s.department_id).cloned().unwrap_or_default();
            NamedScore { name_zh: zh, name_en: en, score: s }
        })
        .collect();
    let (red_list, black_list) = lists(&named.iter().map(|n| &n.score).collect::<Vec<_>>(), formula.list_size);
    // The trend comes from the same records: one pass over the year, not one per month.
    let trend = (1..=12u32)
        .map(|m| {
            let month: Vec<_> = clocks.iter().filter(|c| c.started_month == m).collect();
            let judged: Vec<_> = month.iter().filter(|c| c.outcome != super::score::ClockOutcome::Running).collect();
            let on_time = judged.iter().filter(|c| c.outcome == super::score::ClockOutcome::OnTime).count();
            MonthPoint {
                month: format!("{year}-{m:02}"),
                clocks: month.len(),
                on_time_rate: (!judged.is_empty())
                    .then(|| (on_time as f64 * 10000.0 / judged.len() as f64).round() / 100.0),
            }
        })
        .collect();
    Ok(AssessmentReport {
        year,
        formula: formula.clone(),
        computed_at: now.with_timezone(&crate::calendar::shanghai()),
        finalized: false,
        version: None,
        reason: None,
        red_list,
        black_list,
        departments: named,
        trend,
    })
}

/// The newest finalised snapshot of the year, if any.
pub fn latest_snapshot(conn: &mut DbConnection, year: i32) -> AssessmentResult<Option<AssessmentReport>> {
    let row: Option<(i32, String)> = assessment_snapshots::table
        .filter(assessment_snapshots::year.eq(year))
        .order(assessment_snapshots::version.desc())
        .select((assessment_snapshots::version, assessment_snapshots::report))
        .first(conn)
        .optional()?;
    row.map(|(_, text)| serde_json::from_str(&text).map_err(|e| AssessmentError::internal("assessment snapshot", e)))
        .transpose()
}

/// The report people see: the finalised snapshot when there is one, else a live computation.
pub fn current(
    conn: &mut DbConnection,
    cal: &crate::calendar::WorkingCalendar,
    formula: &Formula,
    year: i32,
    now: DateTime<Utc>,
) -> AssessmentResult<AssessmentReport> {
    match latest_snapshot(conn, year)? {
        Some(r) => Ok(r),
        None => compute(conn, cal, formula, year, now),
    }
}

/// Stores a snapshot. Finalising again needs a reason; every finalisation is audited.
pub fn finalize(
    conn: &mut DbConnection,
    cal: &crate::calendar::WorkingCalendar,
    formula: &Formula,
    year: i32,
    reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> AssessmentResult<AssessmentReport> {
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        let previous = latest_version(conn, year)?;
        if previous.is_some() && reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(AssessmentError::AlreadyFinalised { year });
        }
        let report = compute(conn, cal, formula, year, now)?;
        store(conn, report, previous.unwrap_or(0) + 1, reason, actor, now)
    })
}

/// A new finalised version in which only `department_id`'s score is recomputed from current
/// data (under the formula of the version it replaces); every other department keeps its
/// finalised score. Ranks and lists are derived again from the scores. For a review (复核)
/// decided as "changed".
#[allow(clippy::too_many_arguments)]
pub fn finalize_department(
    conn: &mut DbConnection,
    cal: &crate::calendar::WorkingCalendar,
    year: i32,
    department_id: &str,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> AssessmentResult<AssessmentReport> {
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        let (version, mut report) = match (latest_version(conn, year)?, latest_snapshot(conn, year)?) {
            (Some(v), Some(r)) => (v, r),
            _ => return Err(AssessmentError::NotPublished { year }),
        };
        let live = compute(conn, cal, &report.formula, year, now)?;
        let fresh = live
            .departments
            .into_iter()
            .find(|d| d.score.department_id == department_id)
            .ok_or_else(|| AssessmentError::DepartmentNotScored)?;
        match report.departments.iter_mut().find(|d| d.score.department_id == department_id) {
            Some(d) => *d = fresh,
            None => report.departments.push(fresh),
        }
        let order: Vec<String> = gather::scored_departments(conn)?.into_iter().map(|d| d.0).collect();
        let mut scores: Vec<DepartmentScore> = report.departments.iter().map(|d| d.score.clone()).collect();
        rank(&mut scores, &order);
        let mut named = Vec::with_capacity(scores.len());
        for s in scores {
            let (zh, en) = report
                .departments
                .iter()
                .find(|d| d.score.department_id == s.department_id)
                .map(|d| (d.name_zh.clone(), d.name_en.clone()))
                .unwrap_or_default();
            named.push(NamedScore { name_zh: zh, name_en: en, score: s });
        }
        (report.red_list, report.black_list) =
            lists(&named.iter().map(|n| &n.score).collect::<Vec<_>>(), report.formula.list_size);
        report.departments = named;
        report.computed_at = now.with_timezone(&crate::calendar::shanghai());
        store(conn, report, version + 1, Some(reason), actor, now)
    })
}

fn latest_version(conn: &mut DbConnection, year: i32) -> QueryResult<Option<i32>> {
    assessment_snapshots::table
        .filter(assessment_snapshots::year.eq(year))
        .select(diesel::dsl::max(assessment_snapshots::version))
        .first::<Option<i32>>(conn)
}

fn store(
    conn: &mut DbConnection,
    mut report: AssessmentReport,
    version: i32,
    reason: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> AssessmentResult<AssessmentReport> {
    let year = report.year;
    report.finalized = true;
    report.version = Some(version);
    report.reason = reason.map(str::to_string);
    diesel::insert_into(assessment_snapshots::table)
        .values((
            assessment_snapshots::year.eq(year),
            assessment_snapshots::version.eq(version),
            assessment_snapshots::formula_version.eq(&report.formula.formula_version),
            assessment_snapshots::computed_at.eq(to_db_time(now)),
            assessment_snapshots::finalized_by.eq(actor),
            assessment_snapshots::reason.eq(reason),
            assessment_snapshots::report.eq(serde_json::to_string(&report).expect("json")),
        ))
        .execute(conn)?;
    crate::admin_log::record(
        conn,
        now,
        Some(actor),
        "assessment.finalize",
        &format!("assessment:{year}"),
        serde_json::json!({"version": version, "reason": reason, "formula": report.formula.formula_version}),
    )?;
    Ok(report)
}

/// CSV with a UTF-8 byte-order mark, so spreadsheet programs show the Chinese names.
pub fn to_csv(r: &AssessmentReport) -> Vec<u8> {
    let mut w = crate::csv_export::Sheet::with_bom();
    let _ = w.row([
        "排名 rank",
        "部门 department",
        "Department",
        "总分 total",
        "行风 conduct",
        "投诉办理 complaint handling",
        "行风指数 conduct index",
        "按时答复率 on-time %",
        "满意率 satisfaction %",
        "异议率 contest %",
    ]);
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_default();
    for d in &r.departments {
        let s = &d.score;
        let _ = w.row([
            s.rank.map(|n| n.to_string()).unwrap_or_default(),
            d.name_zh.clone(),
            d.name_en.clone(),
            opt(s.total),
            s.conduct.map(|x| format!("{x:.2}")).or_else(|| s.note.clone()).unwrap_or_default(),
            format!("{:.2}", s.complaint_handling),
            opt(s.conduct_index),
            opt(s.on_time_rate),
            opt(s.satisfaction_rate),
            opt(s.contest_rate),
        ]);
    }
    w.finish().unwrap_or_default()
}

/// A printable A4 report with the charts drawn as SVG; no scripts, no external assets.
pub fn to_html(r: &AssessmentReport) -> AssessmentResult<String> {
    use super::charts;
    let name = |id: &str| r.department(id).map(|d| d.name_zh.clone()).unwrap_or_default();
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "—".into());
    let rows: Vec<minijinja::Value> = r
        .departments
        .iter()
        .map(|d| {
            let s = &d.score;
            minijinja::context! {
                rank => s.rank.map(|n| n.to_string()).unwrap_or_else(|| "—".into()),
                name_zh => &d.name_zh,
                name_en => &d.name_en,
                total => opt(s.total),
                conduct => s.conduct.map(|x| format!("{x:.2}")).unwrap_or_else(|| s.note.clone().unwrap_or_else(|| "—".into())),
                complaint_handling => format!("{:.2}", s.complaint_handling),
                on_time => opt(s.on_time_rate),
                satisfaction => opt(s.satisfaction_rate),
                contest => opt(s.contest_rate),
            }
        })
        .collect();
    let scores: Vec<(String, f64)> =
        r.departments.iter().filter_map(|d| d.score.total.map(|t| (d.name_zh.clone(), t))).collect();
    let on_time: Vec<(String, f64)> =
        r.departments.iter().filter_map(|d| d.score.on_time_rate.map(|v| (d.name_zh.clone(), v))).collect();
    super::printable::render(
        "report.html",
        minijinja::context! {
            year => r.year,
            finalized => r.finalized,
            version => r.version.unwrap_or(0),
            formula_version => &r.formula.formula_version,
            computed_at => r.computed_at.format("%Y-%m-%d %H:%M").to_string(),
            red_list => r.red_list.iter().map(|id| name(id)).collect::<Vec<_>>(),
            black_list => r.black_list.iter().map(|id| name(id)).collect::<Vec<_>>(),
            rows => rows,
            totals => charts::bar_chart(&scores, r.formula.conduct_points + r.formula.complaint_points, ""),
            on_time => charts::bar_chart(&on_time, 100.0, "%"),
            trend => charts::trend(r.trend.iter().map(|m| (m.month.as_str(), m.on_time_rate, m.clocks))),
        },
    )
}
