//! Review (复核): within 15 working days of the year's first finalisation a department may ask
//! for its score to be reviewed, with reasons; the commission decides within 10 working days.
//! Both periods are response clocks on the working-day calendar. A changed score is a new
//! finalised version with the decision attached.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::error::{AssessmentError, AssessmentResult};
use crate::calendar::{Clock, WorkingCalendar};
use crate::db::schema::{assessment_reviews, assessment_snapshots};
use crate::db::{from_db_time, new_id, to_db_time, DbConnection};

pub const REQUEST_WINDOW_WORKING_DAYS: u32 = 15;
pub const DECISION_WORKING_DAYS: u32 = 10;

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = assessment_reviews)]
pub struct ReviewRow {
    pub id: String,
    pub year: i32,
    pub department_id: String,
    pub requested_by: String,
    pub requested_at: NaiveDateTime,
    pub reasons: String,
    pub decision_due_at: NaiveDateTime,
    pub decision: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub new_version: Option<i32>,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ReviewView {
    pub id: String,
    pub year: i32,
    pub department_id: String,
    pub requested_at: DateTime<chrono::FixedOffset>,
    pub reasons: String,
    /// The commission decides by this instant (10 working days).
    pub decision_due_at: DateTime<chrono::FixedOffset>,
    /// Pending and past its due instant.
    pub decision_overdue: bool,
    /// `upheld` or `changed`; absent while pending.
    pub decision: Option<String>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<DateTime<chrono::FixedOffset>>,
    /// The finalised version a changed decision produced.
    pub new_version: Option<i32>,
}

pub fn view(r: &ReviewRow, now: DateTime<Utc>) -> ReviewView {
    let local = |t: NaiveDateTime| from_db_time(t).with_timezone(&crate::calendar::shanghai());
    ReviewView {
        id: r.id.clone(),
        year: r.year,
        department_id: r.department_id.clone(),
        requested_at: local(r.requested_at),
        reasons: r.reasons.clone(),
        decision_due_at: local(r.decision_due_at),
        decision_overdue: r.decision.is_none() && to_db_time(now) >= r.decision_due_at,
        decision: r.decision.clone(),
        decision_reason: r.decision_reason.clone(),
        decided_at: r.decided_at.map(local),
        new_version: r.new_version,
    }
}

fn due(cal: &WorkingCalendar, from: DateTime<Utc>, days: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    Clock::new(from, days).due(cal, now).due_at.with_timezone(&Utc)
}

pub fn request(
    conn: &mut DbConnection,
    cal: &WorkingCalendar,
    year: i32,
    department_id: &str,
    reasons: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> AssessmentResult<ReviewRow> {
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        let published: Option<NaiveDateTime> = assessment_snapshots::table
            .filter(assessment_snapshots::year.eq(year))
            .filter(assessment_snapshots::version.eq(1))
            .select(assessment_snapshots::computed_at)
            .first(conn)
            .optional()?;
        let published = published.ok_or_else(|| AssessmentError::NotPublished { year })?;
        let window_ends = due(cal, from_db_time(published), REQUEST_WINDOW_WORKING_DAYS, now);
        if now >= window_ends {
            return Err(AssessmentError::ReviewWindowClosed { working_days: REQUEST_WINDOW_WORKING_DAYS });
        }
        let pending: i64 = assessment_reviews::table
            .filter(assessment_reviews::year.eq(year))
            .filter(assessment_reviews::department_id.eq(department_id))
            .filter(assessment_reviews::decision.is_null())
            .count()
            .get_result(conn)?;
        if pending > 0 {
            return Err(AssessmentError::ReviewPending);
        }
        let row = ReviewRow {
            id: new_id(),
            year,
            department_id: department_id.to_string(),
            requested_by: actor.to_string(),
            requested_at: to_db_time(now),
            reasons: reasons.to_string(),
            decision_due_at: to_db_time(due(cal, now, DECISION_WORKING_DAYS, now)),
            decision: None,
            decision_reason: None,
            decided_by: None,
            decided_at: None,
            new_version: None,
        };
        diesel::insert_into(assessment_reviews::table).values(&row).execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "assessment.review_request",
            &format!("assessment:{year}"),
            serde_json::json!({"review": row.id, "department": department_id}),
        )?;
        Ok(row)
    })
}

#[allow(clippy::too_many_arguments)]
pub fn decide(
    conn: &mut DbConnection,
    cal: &WorkingCalendar,
    year: i32,
    id: &str,
    changed: bool,
    reason: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> AssessmentResult<ReviewRow> {
    conn.transaction(|conn| {
        // Claim the undecided review first: a second decider finds nothing to claim.
        let claimed = diesel::update(
            assessment_reviews::table
                .find(id)
                .filter(assessment_reviews::year.eq(year))
                .filter(assessment_reviews::decision.is_null()),
        )
        .set(assessment_reviews::decided_by.eq(Some(actor)))
        .execute(conn)?;
        let row: ReviewRow = assessment_reviews::table
            .find(id)
            .filter(assessment_reviews::year.eq(year))
            .select(ReviewRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| AssessmentError::NoSuchReview)?;
        if claimed == 0 || row.decision.is_some() {
            return Err(AssessmentError::ReviewDecided);
        }
        let new_version = if changed {
            // Only the reviewed department's score changes; the others keep their finalised one.
            let r = super::report::finalize_department(
                conn,
                cal,
                year,
                &row.department_id,
                &format!("review {id}: {reason}"),
                actor,
                now,
            )?;
            r.version
        } else {
            None
        };
        diesel::update(assessment_reviews::table.find(id))
            .set((
                assessment_reviews::decision.eq(Some(if changed { "changed" } else { "upheld" })),
                assessment_reviews::decision_reason.eq(Some(reason)),
                assessment_reviews::decided_by.eq(Some(actor)),
                assessment_reviews::decided_at.eq(Some(to_db_time(now))),
                assessment_reviews::new_version.eq(new_version),
            ))
            .execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "assessment.review_decision",
            &format!("assessment:{year}"),
            serde_json::json!({"review": id, "changed": changed, "new_version": new_version}),
        )?;
        Ok(assessment_reviews::table.find(id).select(ReviewRow::as_select()).first(conn)?)
    })
}

pub fn list(conn: &mut DbConnection, year: i32, department: Option<&str>) -> QueryResult<Vec<ReviewRow>> {
    let mut q =
        assessment_reviews::table.filter(assessment_reviews::year.eq(year)).select(ReviewRow::as_select()).into_boxed();
    if let Some(d) = department {
        q = q.filter(assessment_reviews::department_id.eq(d.to_string()));
    }
    q.order(assessment_reviews::requested_at.asc()).load(conn)
}
