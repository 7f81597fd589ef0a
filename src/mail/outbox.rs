//! The outbox: emails written in the same transaction as the change that causes them, claimed
//! by delivery workers with a lease (so several instances never send the same row at once),
//! retried with exponential backoff, and marked failed after the configured attempts.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::templates::Rendered;
use crate::complaints::model::Language;
use crate::db::schema::outbox;
use crate::db::{from_db_time, new_id, to_db_time, DbConnection};

pub const PENDING: &str = "pending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
/// Never sent: the facts the notice spoke of changed before it went out (`cancel_reason`).
pub const CANCELLED: &str = "cancelled";

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub dedupe_key: String,
    pub complaint_id: Option<String>,
    pub notice: String,
    pub language: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub message_id: String,
    /// For notices completed at send time (ballot codes): what the worker needs.
    pub payload: Option<String>,
    /// The facts a ladder notice speaks of, as they were when it was queued ([`Guard`]).
    pub clock_id: Option<String>,
    pub clock_due_at: Option<NaiveDateTime>,
    pub department_id: Option<String>,
    /// Why a cancelled message was never sent.
    pub cancel_reason: Option<String>,
}

/// What a notice asserts about a complaint's clock when it is queued: which clock, the due
/// instant it states, the department it is addressed to. Checked again before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub clock_id: String,
    pub due_at: NaiveDateTime,
    pub department_id: Option<String>,
}

/// Decides whether a queued notice's facts still hold. The domain that queued a notice knows
/// its facts; the delivery worker only asks.
pub trait NoticeGuard: Send + Sync {
    /// `Some(reason)` when the notice must not be sent any more.
    fn stale_reason(&self, conn: &mut DbConnection, row: &OutboxRow, now: DateTime<Utc>)
        -> QueryResult<Option<String>>;
}

/// One email to queue.
pub struct NewMail<'a> {
    /// Unique per message: a step can never be queued twice for the same recipient.
    pub dedupe_key: String,
    pub complaint_id: Option<&'a str>,
    pub notice: &'a str,
    pub language: Language,
    pub recipient: &'a str,
    pub rendered: Rendered,
    /// Not before this instant (working-hours deferral).
    pub send_after: DateTime<Utc>,
    /// Completed at send time (ballot codes); `None` for ordinary notices.
    pub payload: Option<String>,
    /// For notices about a running clock: the facts re-checked before sending.
    pub guard: Option<Guard>,
}

/// Queues the email unless its key is already queued; returns whether it was queued. Call it
/// inside the transaction of the change that causes it.
pub fn enqueue(conn: &mut DbConnection, mail: NewMail<'_>, now: DateTime<Utc>, domain: &str) -> QueryResult<bool> {
    let exists: i64 = outbox::table.filter(outbox::dedupe_key.eq(&mail.dedupe_key)).count().get_result(conn)?;
    if exists > 0 {
        return Ok(false);
    }
    insert_new(conn, mail, now, domain)?;
    Ok(true)
}

/// Queues `mail` whose dedupe key cannot be queued yet (it names something created in the
/// same transaction): [`enqueue`] without its search.
pub fn insert_new(conn: &mut DbConnection, mail: NewMail<'_>, now: DateTime<Utc>, domain: &str) -> QueryResult<()> {
    diesel::insert_into(outbox::table).values(new_row(mail, now, domain)).execute(conn)?;
    Ok(())
}

/// Writes new rows ([`new_row`]) in one statement.
pub fn insert_rows(conn: &mut DbConnection, rows: &[OutboxRow]) -> QueryResult<()> {
    crate::db::on_backend!(conn, c => diesel::insert_into(outbox::table).values(rows).execute(c))?;
    Ok(())
}

/// The pending row of a mail, as [`insert_new`] writes it.
pub fn new_row(mail: NewMail<'_>, now: DateTime<Utc>, domain: &str) -> OutboxRow {
    let id = new_id();
    OutboxRow {
        message_id: format!("<{id}@{domain}>"),
        id,
        dedupe_key: mail.dedupe_key,
        complaint_id: mail.complaint_id.map(str::to_string),
        notice: mail.notice.to_string(),
        language: mail.language.as_str().to_string(),
        recipient: mail.recipient.to_string(),
        subject: mail.rendered.subject,
        text_body: Some(mail.rendered.text),
        html_body: Some(mail.rendered.html),
        status: PENDING.to_string(),
        attempts: 0,
        next_attempt_at: to_db_time(mail.send_after),
        last_error: None,
        lease_owner: None,
        lease_until: None,
        created_at: to_db_time(now),
        sent_at: None,
        payload: mail.payload,
        clock_id: mail.guard.as_ref().map(|g| g.clock_id.clone()),
        clock_due_at: mail.guard.as_ref().map(|g| g.due_at),
        department_id: mail.guard.and_then(|g| g.department_id),
        cancel_reason: None,
    }
}

/// How long a claimed row is reserved for its worker before others may take it over.
pub const LEASE: Duration = Duration::minutes(5);

/// Claims up to `limit` due rows for `owner`. The guarded UPDATE (re-checked under each row's
/// lock on PostgreSQL, serialised by the single writer on SQLite) means no two workers claim
/// the same row.
pub fn claim(conn: &mut DbConnection, owner: &str, now: DateTime<Utc>, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    let now_db = to_db_time(now);
    let candidates: Vec<String> = outbox::table
        .filter(outbox::status.eq(PENDING))
        .filter(outbox::next_attempt_at.le(now_db))
        .filter(outbox::lease_until.is_null().or(outbox::lease_until.lt(now_db)))
        .order(outbox::next_attempt_at.asc())
        .limit(limit)
        .select(outbox::id)
        .load(conn)?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(
        outbox::table
            .filter(outbox::id.eq_any(&candidates))
            .filter(outbox::status.eq(PENDING))
            .filter(outbox::lease_until.is_null().or(outbox::lease_until.lt(now_db))),
    )
    .set((outbox::lease_owner.eq(owner), outbox::lease_until.eq(to_db_time(now + LEASE))))
    .execute(conn)?;
    outbox::table
        .filter(outbox::id.eq_any(&candidates))
        .filter(outbox::lease_owner.eq(owner))
        .filter(outbox::status.eq(PENDING))
        .order(outbox::next_attempt_at.asc())
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Extends the lease of a row this worker holds; false when it is no longer ours.
pub fn renew_lease(conn: &mut DbConnection, id: &str, owner: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let n =
        diesel::update(outbox::table.find(id).filter(outbox::lease_owner.eq(owner)).filter(outbox::status.eq(PENDING)))
            .set(outbox::lease_until.eq(to_db_time(now + LEASE)))
            .execute(conn)?;
    Ok(n == 1)
}

/// Delivered: the bodies (which may quote the investor) are purged.
pub fn mark_sent(conn: &mut DbConnection, id: &str, owner: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id).filter(outbox::lease_owner.eq(owner)))
        .set((
            outbox::status.eq(SENT),
            outbox::sent_at.eq(Some(to_db_time(now))),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::text_body.eq(None::<String>),
            outbox::html_body.eq(None::<String>),
            outbox::payload.eq(None::<String>),
            outbox::last_error.eq(None::<String>),
            outbox::lease_owner.eq(None::<String>),
            outbox::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
}

/// Cancels a message that has not been sent: it stays, with the reason, for the administrator;
/// its bodies are purged like a sent message's. Returns whether it was still pending.
pub fn cancel(conn: &mut DbConnection, id: &str, reason: &str, now: DateTime<Utc>) -> QueryResult<bool> {
    let n = diesel::update(outbox::table.find(id).filter(outbox::status.eq(PENDING)))
        .set((
            outbox::status.eq(CANCELLED),
            outbox::cancel_reason.eq(Some(reason.chars().take(500).collect::<String>())),
            outbox::sent_at.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(None::<String>),
            outbox::text_body.eq(None::<String>),
            outbox::html_body.eq(None::<String>),
            outbox::payload.eq(None::<String>),
            outbox::lease_owner.eq(None::<String>),
            outbox::lease_until.eq(None::<NaiveDateTime>),
            outbox::next_attempt_at.eq(to_db_time(now)),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// The complaint's pending messages that carry a [`Guard`].
pub fn pending_guarded(conn: &mut DbConnection, complaint_id: &str) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .filter(outbox::complaint_id.eq(complaint_id))
        .filter(outbox::status.eq(PENDING))
        .filter(outbox::clock_id.is_not_null())
        .select(OutboxRow::as_select())
        .load(conn)
}

/// The statuses of the messages a clock's rung `notice` queued (oldest first).
pub fn statuses_of_notice(conn: &mut DbConnection, clock_id: &str, notice: &str) -> QueryResult<Vec<String>> {
    outbox::table
        .filter(outbox::clock_id.eq(clock_id))
        .filter(outbox::notice.eq(notice))
        .order(outbox::created_at.asc())
        .select(outbox::status)
        .load(conn)
}

/// Backoff after the n-th failed attempt: 1, 2, 4, … minutes, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 7) - 1;
    Duration::minutes((1i64 << exp).min(60))
}

pub fn mark_failed_attempt(
    conn: &mut DbConnection,
    row: &OutboxRow,
    owner: &str,
    error: &str,
    now: DateTime<Utc>,
    max_attempts: u32,
) -> QueryResult<bool> {
    let attempts = row.attempts + 1;
    let permanent = attempts >= max_attempts as i32;
    diesel::update(outbox::table.find(&row.id).filter(outbox::lease_owner.eq(owner)))
        .set((
            outbox::status.eq(if permanent { FAILED } else { PENDING }),
            outbox::attempts.eq(attempts),
            outbox::last_error.eq(Some(error.chars().take(500).collect::<String>())),
            outbox::next_attempt_at.eq(to_db_time(now + backoff(attempts))),
            outbox::lease_owner.eq(None::<String>),
            outbox::lease_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(permanent)
}

/// An admin's retry of a failed message: pending again, attempts reset, due now.
pub fn retry(conn: &mut DbConnection, id: &str, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(outbox::table.find(id).filter(outbox::status.eq(FAILED)))
        .set((
            outbox::status.eq(PENDING),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(to_db_time(now)),
            outbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
}

/// What an administrator sees of a message: never its body.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct OutboxView {
    pub id: String,
    pub complaint_id: Option<String>,
    pub notice: String,
    pub language: String,
    /// Masked: `w***@gov.cn`.
    pub recipient: String,
    pub subject: String,
    /// `pending | sent | failed | cancelled`
    pub status: String,
    /// Why a cancelled message was never sent (the facts it spoke of changed).
    pub cancel_reason: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: DateTime<chrono::FixedOffset>,
    pub last_error: Option<String>,
    pub created_at: DateTime<chrono::FixedOffset>,
    pub sent_at: Option<DateTime<chrono::FixedOffset>>,
}

impl From<OutboxRow> for OutboxView {
    fn from(r: OutboxRow) -> Self {
        let local = |t: NaiveDateTime| from_db_time(t).with_timezone(&crate::calendar::shanghai());
        OutboxView {
            recipient: crate::fields::mask_email(&r.recipient),
            id: r.id,
            complaint_id: r.complaint_id,
            notice: r.notice,
            language: r.language,
            subject: r.subject,
            status: r.status,
            cancel_reason: r.cancel_reason,
            attempts: r.attempts,
            next_attempt_at: local(r.next_attempt_at),
            last_error: r.last_error,
            created_at: local(r.created_at),
            sent_at: r.sent_at.map(local),
        }
    }
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OutboxRow>> {
    outbox::table.find(id).select(OutboxRow::as_select()).first(conn).optional()
}

pub fn list(conn: &mut DbConnection, status: Option<&str>, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    let mut q = outbox::table.select(OutboxRow::as_select()).into_boxed();
    if let Some(s) = status {
        q = q.filter(outbox::status.eq(s.to_string()));
    }
    q.order(outbox::created_at.desc()).limit(limit).load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(2), Duration::minutes(2));
        assert_eq!(backoff(4), Duration::minutes(8));
        assert_eq!(backoff(7), Duration::minutes(60));
        assert_eq!(backoff(30), Duration::minutes(60));
    }
}
