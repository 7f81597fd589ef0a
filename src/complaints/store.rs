//! Complaint rows and the queries on them. Functions take `&mut DbConnection` so the service
//! can compose them inside one transaction.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::model::{Channel, ExtensionVerdict, StopReason};
use super::state::Status;
use crate::db::schema::{
    clock_pauses, complaint_assignments, complaint_clocks, complaints, departments, extension_requests,
};
use crate::db::DbConnection;
use crate::ids::{ComplaintId, DepartmentId, UserId};

/// A complaint as stored; also what a filing inserts (the fields a later step sets are `None`
/// then, and stored as NULL).
#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = complaints)]
pub struct ComplaintRow {
    pub id: ComplaintId,
    pub tracking_number: String,
    pub tracking_year: i32,
    pub tracking_seq: i64,
    pub channel: Channel,
    pub status: Status,
    pub language: String,
    pub complainant_type: String,
    pub complainant_name: String,
    pub company: String,
    pub nationality: String,
    pub email: String,
    pub phone: String,
    pub agent_name: Option<String>,
    pub agent_contact: Option<String>,
    pub project: String,
    pub concerned_department_id: Option<DepartmentId>,
    pub concerned_staff: Option<String>,
    pub matter_type: String,
    pub subject: String,
    pub facts: String,
    pub request: String,
    pub review_or_lawsuit: bool,
    pub confidential: bool,
    pub contact_consent: Option<bool>,
    pub filed_by: Option<UserId>,
    pub access_code_hash: String,
    pub department_id: Option<DepartmentId>,
    pub received_at: NaiveDateTime,
    pub due_at: Option<NaiveDateTime>,
    pub overdue: bool,
    pub reply_text: Option<String>,
    pub reply_outcome: Option<String>,
    pub replied_at: Option<NaiveDateTime>,
    pub rating: Option<String>,
    pub rating_comment: Option<String>,
    pub rated_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    pub idempotency_key_hash: Option<String>,
    pub idempotency_body_hash: Option<String>,
    pub idempotency_sealed_code: Option<String>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

/// What a list of complaints shows of each (the inbox, the console, the API's list): the
/// columns of one line, not the facts and texts a full row carries.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = complaints)]
pub struct ListedComplaint {
    pub id: ComplaintId,
    pub tracking_number: String,
    pub status: Status,
    pub company: String,
    pub concerned_department_id: Option<DepartmentId>,
    pub subject: String,
    pub department_id: Option<DepartmentId>,
    pub received_at: NaiveDateTime,
    pub due_at: Option<NaiveDateTime>,
    pub overdue: bool,
    /// 0: the reply clock runs; 1: paused while the investor is asked; 2: no running clock.
    pub queue_group: i32,
}

impl ListedComplaint {
    /// Where the list resumes after this row.
    pub fn position(&self) -> ListPosition {
        ListPosition {
            group: self.queue_group,
            due_at: self.due_at,
            received_at: self.received_at,
            id: self.id.to_string(),
        }
    }
}

/// A place in the staff list's order: (group, due instant, received, id).
#[derive(Debug, Clone, PartialEq)]
pub struct ListPosition {
    pub group: i32,
    pub due_at: Option<NaiveDateTime>,
    pub received_at: NaiveDateTime,
    pub id: String,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = complaint_clocks)]
pub struct ClockRow {
    pub id: String,
    pub complaint_id: ComplaintId,
    pub kind: String,
    pub ordinal: i32,
    pub started_at: NaiveDateTime,
    pub working_days: i32,
    pub extension_days: i32,
    pub due_at: NaiveDateTime,
    pub due_date: NaiveDate,
    pub provisional: bool,
    pub stopped_at: Option<NaiveDateTime>,
    pub stop_reason: Option<StopReason>,
    pub breached_at: Option<NaiveDateTime>,
    pub next_step: Option<String>,
    pub next_step_at: Option<NaiveDateTime>,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = clock_pauses)]
pub struct PauseRow {
    pub id: String,
    pub clock_id: String,
    pub paused_at: NaiveDateTime,
    pub resumed_at: Option<NaiveDateTime>,
    pub question: String,
    pub answer: Option<String>,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = complaint_assignments)]
pub struct AssignmentRow {
    pub id: String,
    pub complaint_id: ComplaintId,
    pub department_id: DepartmentId,
    pub assigned_at: NaiveDateTime,
    pub assigned_by: Option<UserId>,
    pub released_at: Option<NaiveDateTime>,
    pub release_reason: Option<String>,
    pub working_days_held: Option<i32>,
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = extension_requests)]
pub struct ExtensionRow {
    pub id: String,
    pub complaint_id: ComplaintId,
    pub clock_id: String,
    pub department_id: DepartmentId,
    pub requested_by: UserId,
    pub requested_at: NaiveDateTime,
    pub days_requested: i32,
    pub reason: String,
    pub decision: Option<ExtensionVerdict>,
    pub days_approved: Option<i32>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_reason: Option<String>,
}

/// Takes the next `n` tracking sequences of `year`, in one statement; answers the last of them.
/// The counter row stays locked until the transaction ends: concurrent filings queue behind it
/// and numbers stay gapless (a rolled-back filing rolls its numbers back too). Callers take it
/// as late as they can.
pub fn take_tracking_seqs(conn: &mut DbConnection, year: i32, n: i64) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Seq {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        last_seq: i64,
    }
    // `year` and `n` are integers, so formatting them into the statement is safe; the upsert is
    // the same text on both backends (SQLite ≥ 3.35 for RETURNING).
    let seq: Seq = diesel::sql_query(format!(
        "INSERT INTO tracking_counters (year, last_seq) VALUES ({year}, {n}) \
         ON CONFLICT (year) DO UPDATE SET last_seq = tracking_counters.last_seq + {n} RETURNING last_seq"
    ))
    .get_result(conn)?;
    Ok(seq.last_seq)
}

/// Takes the complaint's write lock (PostgreSQL: row lock; SQLite: the database write lock,
/// before anything is read, so a concurrent writer waits instead of failing) and bumps its
/// version. Returns false when there is no such complaint.
pub fn lock(conn: &mut DbConnection, id: &ComplaintId) -> QueryResult<bool> {
    let n = diesel::update(complaints::table.find(id))
        .set(complaints::version.eq(complaints::version + 1))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn find(conn: &mut DbConnection, id: &ComplaintId) -> QueryResult<Option<ComplaintRow>> {
    complaints::table.find(id).select(ComplaintRow::as_select()).first(conn).optional()
}

/// The names of the department handling a complaint, read with its row.
#[derive(Queryable, Debug, Clone)]
pub struct HandlingDepartment {
    pub id: DepartmentId,
    pub name_zh: String,
    pub name_en: String,
}

/// A complaint with its handling department, read in one statement (the views show both).
pub type WithDepartment = (ComplaintRow, Option<HandlingDepartment>);

/// The complaints table joined to the department each row is assigned to, if any.
macro_rules! complaints_with_department {
    () => {
        complaints::table
            .left_join(departments::table.on(complaints::department_id.eq(departments::id.nullable())))
            .select((
                ComplaintRow::as_select(),
                (departments::id, departments::name_zh, departments::name_en).nullable(),
            ))
    };
}

pub fn find_with_department(conn: &mut DbConnection, id: &ComplaintId) -> QueryResult<Option<WithDepartment>> {
    crate::db::on_backend!(conn, c => complaints_with_department!().filter(complaints::id.eq(id)).first(c).optional())
}

pub fn find_by_tracking_number_with_department(
    conn: &mut DbConnection,
    number: &str,
) -> QueryResult<Option<WithDepartment>> {
    crate::db::on_backend!(conn, c => {
        complaints_with_department!().filter(complaints::tracking_number.eq(number)).first(c).optional()
    })
}

pub fn find_by_tracking_number(conn: &mut DbConnection, number: &str) -> QueryResult<Option<ComplaintRow>> {
    complaints::table
        .filter(complaints::tracking_number.eq(number))
        .select(ComplaintRow::as_select())
        .first(conn)
        .optional()
}

/// The complaints filed under any of these Idempotency-Keys (one statement for a group).
pub fn find_by_idempotency_keys(conn: &mut DbConnection, key_hashes: &[&str]) -> QueryResult<Vec<ComplaintRow>> {
    complaints::table
        .filter(complaints::idempotency_key_hash.eq_any(key_hashes))
        .select(ComplaintRow::as_select())
        .load(conn)
}

pub fn find_by_idempotency_key(conn: &mut DbConnection, key_hash: &str) -> QueryResult<Option<ComplaintRow>> {
    complaints::table
        .filter(complaints::idempotency_key_hash.eq(key_hash))
        .select(ComplaintRow::as_select())
        .first(conn)
        .optional()
}

/// The newest clock of `kind` (the one that runs, or ran last).
pub fn current_clock(conn: &mut DbConnection, complaint_id: &ComplaintId, kind: &str) -> QueryResult<Option<ClockRow>> {
    complaint_clocks::table
        .filter(complaint_clocks::complaint_id.eq(complaint_id))
        .filter(complaint_clocks::kind.eq(kind))
        .order(complaint_clocks::ordinal.desc())
        .select(ClockRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_clock(conn: &mut DbConnection, clock_id: &str) -> QueryResult<Option<ClockRow>> {
    complaint_clocks::table.find(clock_id).select(ClockRow::as_select()).first(conn).optional()
}

pub fn clocks_of(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<Vec<ClockRow>> {
    complaint_clocks::table
        .filter(complaint_clocks::complaint_id.eq(complaint_id))
        .order((complaint_clocks::kind.asc(), complaint_clocks::ordinal.asc()))
        .select(ClockRow::as_select())
        .load(conn)
}

/// The clocks of a complaint that are still running (any kind).
pub fn running_clocks(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<Vec<ClockRow>> {
    complaint_clocks::table
        .filter(complaint_clocks::complaint_id.eq(complaint_id))
        .filter(complaint_clocks::stopped_at.is_null())
        .select(ClockRow::as_select())
        .load(conn)
}

pub fn pauses_of(conn: &mut DbConnection, clock_id: &str) -> QueryResult<Vec<PauseRow>> {
    clock_pauses::table
        .filter(clock_pauses::clock_id.eq(clock_id))
        .order(clock_pauses::paused_at.asc())
        .select(PauseRow::as_select())
        .load(conn)
}

pub fn open_assignment(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<Option<AssignmentRow>> {
    complaint_assignments::table
        .filter(complaint_assignments::complaint_id.eq(complaint_id))
        .filter(complaint_assignments::released_at.is_null())
        .select(AssignmentRow::as_select())
        .first(conn)
        .optional()
}

pub fn assignments_of(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<Vec<AssignmentRow>> {
    complaint_assignments::table
        .filter(complaint_assignments::complaint_id.eq(complaint_id))
        .order(complaint_assignments::assigned_at.asc())
        .select(AssignmentRow::as_select())
        .load(conn)
}

pub fn extensions_of(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<Vec<ExtensionRow>> {
    extension_requests::table
        .filter(extension_requests::complaint_id.eq(complaint_id))
        .order(extension_requests::requested_at.asc())
        .select(ExtensionRow::as_select())
        .load(conn)
}

/// Every clock still running, of any complaint (for recomputation after a calendar change).
pub fn open_clocks(conn: &mut DbConnection) -> QueryResult<Vec<ClockRow>> {
    complaint_clocks::table.filter(complaint_clocks::stopped_at.is_null()).select(ClockRow::as_select()).load(conn)
}

/// Filters for staff lists. Every filter is optional; `department_id` is forced for department staff.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub department_id: Option<DepartmentId>,
    pub overdue: Option<bool>,
    pub received_from: Option<NaiveDateTime>,
    pub received_before: Option<NaiveDateTime>,
    pub text: Option<String>,
    /// Resume after this position.
    pub after: Option<ListPosition>,
    pub limit: i64,
}

impl ListFilter {
    /// True when the page is read in an index's order and stops after `limit` rows (the inbox
    /// as it opens, by department or overdue): a lookup. A search, or a filter on status or
    /// dates, may read past many rows that do not match.
    pub fn reads_in_index_order(&self) -> bool {
        self.text.is_none() && self.status.is_none() && self.received_from.is_none() && self.received_before.is_none()
    }
}

/// Complaints in the inbox order: running clocks first (the most overdue, then the least time
/// left), then the cases paused for the investor, then those with no running clock; among equal
/// deadlines the oldest complaint first; then id, for keyset pagination. The order is the one of
/// the indexes `complaints_queue` and `complaints_department_queue`: a page is read from the
/// index.
pub fn list(conn: &mut DbConnection, f: &ListFilter) -> QueryResult<Vec<ListedComplaint>> {
    let mut q = complaints::table.select(ListedComplaint::as_select()).into_boxed();
    if let Some(s) = &f.status {
        q = q.filter(complaints::status.eq(*s));
    }
    if let Some(d) = &f.department_id {
        q = q.filter(complaints::department_id.eq(d.clone()));
    }
    if let Some(o) = f.overdue {
        q = q.filter(complaints::overdue.eq(o));
    }
    if let Some(from) = f.received_from {
        q = q.filter(complaints::received_at.ge(from));
    }
    if let Some(before) = f.received_before {
        q = q.filter(complaints::received_at.lt(before));
    }
    if let Some(text) = &f.text {
        let pattern = format!("%{}%", text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        q = q.filter(
            complaints::subject
                .like(pattern.clone())
                .escape('\\')
                .or(complaints::tracking_number.like(pattern.clone()).escape('\\'))
                .or(complaints::company.like(pattern.clone()).escape('\\'))
                .or(complaints::project.like(pattern).escape('\\')),
        );
    }
    if let Some(p) = &f.after {
        use complaints::{due_at, id, queue_group, received_at};
        let later_received = received_at.gt(p.received_at).or(received_at.eq(p.received_at).and(id.gt(p.id.clone())));
        let later_group = queue_group.gt(p.group);
        let same_group = queue_group.eq(p.group);
        // Within groups 0 and 1 every row has a due instant; in group 2 none has.
        q = match p.due_at {
            Some(due) => {
                q.filter(later_group.or(same_group.and(due_at.gt(due).or(due_at.eq(due).and(later_received)))))
            }
            None => q.filter(later_group.or(same_group.and(later_received))),
        };
    }
    q.order((
        complaints::queue_group.asc(),
        complaints::due_at.asc(),
        complaints::received_at.asc(),
        complaints::id.asc(),
    ))
    .limit(f.limit)
    .load(conn)
}

/// The list's cursor (`next_cursor`): hex of "<group>|<due micros or ->|<received micros>|<id>",
/// after the last row shown.
pub fn encode_cursor(p: &ListPosition) -> String {
    let micros = |t: NaiveDateTime| t.and_utc().timestamp_micros().to_string();
    let due = p.due_at.map(micros).unwrap_or_else(|| "-".into());
    hex::encode(format!("{}|{due}|{}|{}", p.group, micros(p.received_at), p.id))
}

/// A cursor from [`encode_cursor`]; anything else (or an id with a control character) is refused.
pub fn decode_cursor(s: &str) -> Result<ListPosition, crate::error::FieldError> {
    let bad = || crate::error::FieldError::new("cursor", "invalid", "not a cursor from this list");
    let text = String::from_utf8(hex::decode(s).map_err(|_| bad())?).map_err(|_| bad())?;
    let mut parts = text.splitn(4, '|');
    let (Some(group), Some(due), Some(received), Some(id)) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if id.chars().any(char::is_control) {
        return Err(bad());
    }
    let instant = |micros: &str| -> Result<NaiveDateTime, crate::error::FieldError> {
        Ok(chrono::DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?.naive_utc())
    };
    let group: i32 = group.parse().map_err(|_| bad())?;
    let due_at = match due {
        "-" => None,
        micros => Some(instant(micros)?),
    };
    // Groups 0 and 1 have a due instant, group 2 none: any other pairing was not made here.
    if !(0..=2).contains(&group) || (group == 2) != due_at.is_none() {
        return Err(bad());
    }
    Ok(ListPosition { group, due_at, received_at: instant(received)?, id: id.to_string() })
}
