//! Complaint operations. Each runs in one transaction that writes the new state, its audit
//! event and (later) the notices it causes; nothing is acknowledged before the commit.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

pub use super::context::{
    calendar_clock, contest_deadline, ensure_department_scope, Acting, Ctx, Rules, ACCEPT_CLOCK, CONCLUDE_CLOCK,
    REPLY_CLOCK,
};
use super::events::{self, NewEvent};
use super::intake::ValidComplaint;
use super::model::{AccessCode, ExtensionVerdict, Rating, ReplyOutcome, StopReason, TrackingNumber};
use super::state::{transition, Action, Actor, Status};
use super::store::{self, AssignmentRow, ClockRow, ComplaintRow, ExtensionRow, PauseRow};
use crate::calendar::{local_date, Clock, WorkingCalendar};
use crate::complaints::error::{ComplaintError, ComplaintResult};
use crate::db::schema::{clock_pauses, complaint_assignments, complaint_clocks, complaints, extension_requests};
use crate::db::{from_db_time, new_id, to_db_time, DbConnection};
use crate::departments::store as departments;
use crate::departments::DepartmentKind;
use crate::ids::{ComplaintId, DepartmentId, UserId};

/// How long a retried filing can still be shown its access code.
pub const SEALED_CODE_HOURS: i64 = 24;

/// Forgets sealed access codes older than a day. Returns how many were purged.
pub fn purge_sealed_codes(conn: &mut DbConnection, now: DateTime<Utc>) -> QueryResult<usize> {
    diesel::update(
        complaints::table
            .filter(complaints::idempotency_sealed_code.is_not_null())
            .filter(complaints::received_at.lt(to_db_time(now - chrono::Duration::hours(SEALED_CODE_HOURS)))),
    )
    .set(complaints::idempotency_sealed_code.eq(None::<String>))
    .execute(conn)
}
/// Locks the complaint for this transaction and loads it.
fn load_locked(conn: &mut DbConnection, id: &ComplaintId) -> ComplaintResult<ComplaintRow> {
    if !store::lock(conn, id)? {
        return Err(ComplaintError::NotFound);
    }
    Ok(store::find(conn, id)?.expect("locked row exists"))
}

/// Checks the transition and department scope; returns (from, to).
fn begin(
    conn: &mut DbConnection,
    id: &ComplaintId,
    action: Action,
    acting: &Acting,
) -> ComplaintResult<(ComplaintRow, Status, Status)> {
    let row = load_locked(conn, id)?;
    ensure_department_scope(&row, acting)?;
    let from = row.status;
    let to =
        transition(from, action, acting.actor).map_err(|error| ComplaintError::Transition { error, current: from })?;
    Ok((row, from, to))
}

#[allow(clippy::too_many_arguments)]
fn record(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    action: &str,
    from: Option<Status>,
    to: Status,
    detail: serde_json::Value,
    visible: bool,
) -> ComplaintResult<()> {
    events::append(
        conn,
        NewEvent {
            complaint_id: id,
            at: ctx.now,
            actor: acting.actor,
            actor_id: acting.user_id.as_deref(),
            action,
            from,
            to,
            detail,
            investor_visible: visible,
        },
    )?;
    facts_changed(conn, ctx, id)
}

/// After any change to a complaint, in its transaction: queued ladder notices whose facts no
/// longer hold are cancelled. A cancellation can re-arm a rung (`escalation::schedule::schedule`),
/// so the running reply clock is rescheduled then; a moved due time is rescheduled where the
/// clock is refreshed (`refresh_clock`).
fn facts_changed(conn: &mut DbConnection, ctx: &Ctx, id: &ComplaintId) -> ComplaintResult<()> {
    if super::notices::cancel_stale(conn, id, ctx.now)? == 0 {
        return Ok(());
    }
    if let Some(clock) = store::current_clock(conn, id, REPLY_CLOCK)?.filter(|c| c.stopped_at.is_none()) {
        crate::escalation::schedule::schedule(conn, ctx, &clock)?;
    }
    Ok(())
}

/// Queues an investor notice about complaint `id` (after its change is written).
fn notify_investor(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    notice: &str,
    extra: serde_json::Value,
) -> ComplaintResult<()> {
    let row = store::find(conn, id)?.ok_or_else(|| ComplaintError::NotFound)?;
    let clock = store::current_clock(conn, id, REPLY_CLOCK)?
        .ok_or_else(|| ComplaintError::internal("notice", "no reply clock"))?;
    super::notices::to_investor(conn, ctx, &row, &clock, notice, &new_id(), extra)
}

/// Who a staff notice about a complaint goes to.
enum StaffRecipient {
    CoordinationOffice,
    /// The department that holds the complaint now.
    HoldingDepartment,
    Department(DepartmentId),
}

/// Queues a staff notice about complaint `id` (after its change is written), in the staff
/// language, to each recipient's contact address.
fn notify_staff(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    notice: &str,
    to: &[StaffRecipient],
    extra: serde_json::Value,
) -> ComplaintResult<()> {
    let row = store::find(conn, id)?.ok_or_else(|| ComplaintError::NotFound)?;
    let clock = store::current_clock(conn, id, REPLY_CLOCK)?
        .ok_or_else(|| ComplaintError::internal("notice", "no reply clock"))?;
    let mut addresses = Vec::new();
    for r in to {
        let address = match r {
            StaffRecipient::CoordinationOffice => super::notices::office_address(conn, "coordination-office")?,
            StaffRecipient::HoldingDepartment => match &row.department_id {
                Some(d) => departments::find(conn, d)?.filter(|d| d.active).map(|d| d.contact_email),
                None => super::notices::office_address(conn, "coordination-office")?,
            },
            StaffRecipient::Department(d) => departments::find(conn, d)?.filter(|d| d.active).map(|d| d.contact_email),
        };
        addresses.extend(address);
    }
    addresses.dedup();
    super::notices::to_staff(conn, ctx, &row, &clock, notice, &addresses, extra)
}

/// Queues the ladder's at-assignment rungs for the department that now holds complaint `id`.
fn notify_assignment(conn: &mut DbConnection, ctx: &Ctx, id: &ComplaintId) -> ComplaintResult<serde_json::Value> {
    let row = store::find(conn, id)?.ok_or_else(|| ComplaintError::NotFound)?;
    let clock = running_clock(conn, id)?;
    let assignment =
        store::open_assignment(conn, id)?.ok_or_else(|| ComplaintError::internal("notice", "no open assignment"))?;
    let left = ctx.cal.working_days_between(local_date(ctx.now), clock.due_date).max(0);
    let mut sent = Vec::new();
    for rung in ctx.rules.notices.ladder.at_assignment() {
        sent.push(super::notices::rung_emails(
            conn,
            ctx,
            &row,
            &clock,
            rung,
            &assignment.id,
            ctx.now,
            json!({"working_days_left": left, "working_days_overdue": 0}),
        )?);
    }
    Ok(json!(sent))
}

/// An audit event that does not change the state (e.g. an escalation rung).
#[allow(clippy::too_many_arguments)]
pub fn record_event(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    action: &str,
    status: Status,
    detail: serde_json::Value,
    visible: bool,
) -> ComplaintResult<()> {
    record(conn, ctx, id, acting, action, Some(status), status, detail, visible)
}

fn set_status(conn: &mut DbConnection, id: &ComplaintId, to: Status, now: DateTime<Utc>) -> QueryResult<usize> {
    write_row(conn, id, RowChange { status: Some(to), ..RowChange::at(now) })
}

/// What an operation changes on the complaint row, written in one UPDATE after the lock (the
/// fields left `None` are not touched).
#[derive(AsChangeset)]
#[diesel(table_name = complaints)]
struct RowChange {
    status: Option<Status>,
    department_id: Option<Option<DepartmentId>>,
    /// The running reply clock's due instant (`Some(None)`: no running reply clock).
    due_at: Option<Option<chrono::NaiveDateTime>>,
    updated_at: chrono::NaiveDateTime,
}

impl RowChange {
    fn at(now: DateTime<Utc>) -> RowChange {
        RowChange { status: None, department_id: None, due_at: None, updated_at: to_db_time(now) }
    }
}

fn write_row(conn: &mut DbConnection, id: &ComplaintId, change: RowChange) -> QueryResult<usize> {
    diesel::update(complaints::table.find(id)).set(change).execute(conn)
}

/// The complaint row's due instant after `fresh` was recomputed: a running reply clock's, else
/// unchanged.
fn due_of(fresh: &ClockRow) -> Option<Option<chrono::NaiveDateTime>> {
    (fresh.stopped_at.is_none() && fresh.kind == REPLY_CLOCK).then_some(Some(fresh.due_at))
}

// ---------------------------------------------------------------------------------------------
// Clocks

/// Recomputes a clock's due instant from its pauses and extensions with the current calendar;
/// updates the clock row and returns it. The caller puts a running reply clock's due instant on
/// the complaint row ([`due_of`]) in the one UPDATE it makes of that row.
pub fn refresh_clock(conn: &mut DbConnection, ctx: &Ctx, clock_id: &str) -> ComplaintResult<ClockRow> {
    let clock: ClockRow = complaint_clocks::table.find(clock_id).select(ClockRow::as_select()).first(conn)?;
    let pauses = store::pauses_of(conn, clock_id)?;
    let due = calendar_clock(&clock, &pauses, ctx.rules.cutoff).due(ctx.cal, ctx.now);
    let due_at = to_db_time(due.due_at.with_timezone(&Utc));
    diesel::update(complaint_clocks::table.find(clock_id))
        .set((
            complaint_clocks::due_at.eq(due_at),
            complaint_clocks::due_date.eq(due.due_date),
            complaint_clocks::provisional.eq(due.provisional),
        ))
        .execute(conn)?;
    let fresh = ClockRow { due_at, due_date: due.due_date, provisional: due.provisional, ..clock };
    // The ladder follows the due date: a pause, an extension or a new calendar moves its rungs.
    crate::escalation::schedule::schedule(conn, ctx, &fresh)?;
    Ok(fresh)
}

/// Opens a clock of `kind` as of now. A reply clock's due instant also goes on the complaint
/// row (`due_at`): the caller writes it there in the one statement it makes of that row (the
/// filing's INSERT, the contest's UPDATE), from [`new_clock_due`] or the returned clock.
fn open_clock(
    conn: &mut DbConnection,
    ctx: &Ctx,
    complaint_id: &ComplaintId,
    kind: &str,
    working_days: u32,
) -> ComplaintResult<ClockRow> {
    let ordinal = store::current_clock(conn, complaint_id, kind)?.map(|c| c.ordinal + 1).unwrap_or(1);
    let due = new_clock_due(ctx, working_days);
    let row = ClockRow {
        id: new_id(),
        complaint_id: complaint_id.clone(),
        kind: kind.to_string(),
        ordinal,
        started_at: to_db_time(ctx.now),
        working_days: working_days as i32,
        extension_days: 0,
        due_at: to_db_time(due.due_at.with_timezone(&Utc)),
        due_date: due.due_date,
        provisional: due.provisional,
        stopped_at: None,
        stop_reason: None,
        breached_at: None,
        next_step: None,
        next_step_at: None,
    };
    diesel::insert_into(complaint_clocks::table).values(&row).execute(conn)?;
    crate::escalation::schedule::schedule(conn, ctx, &row)?;
    Ok(row)
}

/// When a clock of `working_days` opened now falls due: what [`open_clock`] stores, and what a
/// filing writes on the complaint row before the clock exists.
fn new_clock_due(ctx: &Ctx, working_days: u32) -> crate::calendar::Due {
    let mut clock = Clock::new(ctx.now, working_days);
    clock.cutoff = ctx.rules.cutoff;
    clock.due(ctx.cal, ctx.now)
}

fn running_clock(conn: &mut DbConnection, complaint_id: &ComplaintId) -> ComplaintResult<ClockRow> {
    store::current_clock(conn, complaint_id, REPLY_CLOCK)?
        .filter(|c| c.stopped_at.is_none())
        .ok_or_else(|| ComplaintError::internal("complaint clock", "no running reply clock"))
}

/// Stops the running clock of `kind`, if any, as of now; returns it as it now stands. One
/// UPDATE of the clock row: the stop, the final due instant, and the ladder cleared (a stopped
/// clock has no next rung). The complaint's own `due_at` is the caller's to clear, in the one
/// UPDATE it makes of the complaint row ([`CLOCK_STOPPED`] for a reply clock).
fn stop_clock(
    conn: &mut DbConnection,
    ctx: &Ctx,
    complaint_id: &ComplaintId,
    kind: &str,
    reason: StopReason,
) -> ComplaintResult<Option<ClockRow>> {
    let Some(clock) = store::current_clock(conn, complaint_id, kind)?.filter(|c| c.stopped_at.is_none()) else {
        return Ok(None);
    };
    close_open_pause(conn, ctx, &clock.id, None)?;
    let stopped = ClockRow { stopped_at: Some(to_db_time(ctx.now)), stop_reason: Some(reason), ..clock };
    let pauses = store::pauses_of(conn, &stopped.id)?;
    let due = calendar_clock(&stopped, &pauses, ctx.rules.cutoff).due(ctx.cal, ctx.now);
    let stopped = ClockRow {
        due_at: to_db_time(due.due_at.with_timezone(&Utc)),
        due_date: due.due_date,
        provisional: due.provisional,
        next_step: None,
        next_step_at: None,
        ..stopped
    };
    diesel::update(complaint_clocks::table.find(&stopped.id))
        .set((
            complaint_clocks::stopped_at.eq(stopped.stopped_at),
            complaint_clocks::stop_reason.eq(stopped.stop_reason),
            complaint_clocks::due_at.eq(stopped.due_at),
            complaint_clocks::due_date.eq(stopped.due_date),
            complaint_clocks::provisional.eq(stopped.provisional),
            complaint_clocks::next_step.eq(None::<String>),
            complaint_clocks::next_step_at.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    Ok(Some(stopped))
}

/// What the complaint row says once its reply clock stopped: no due instant.
const CLOCK_STOPPED: Option<chrono::NaiveDateTime> = None;

/// Stops whichever MOFCOM clocks run (accept, conclude) with `reason`.
fn stop_optional_clocks(
    conn: &mut DbConnection,
    ctx: &Ctx,
    complaint_id: &ComplaintId,
    accept_reason: StopReason,
    conclude_reason: StopReason,
) -> ComplaintResult<()> {
    stop_clock(conn, ctx, complaint_id, ACCEPT_CLOCK, accept_reason)?;
    stop_clock(conn, ctx, complaint_id, CONCLUDE_CLOCK, conclude_reason)?;
    Ok(())
}

fn close_open_pause(conn: &mut DbConnection, ctx: &Ctx, clock_id: &str, answer: Option<&str>) -> QueryResult<usize> {
    diesel::update(
        clock_pauses::table.filter(clock_pauses::clock_id.eq(clock_id)).filter(clock_pauses::resumed_at.is_null()),
    )
    .set((clock_pauses::resumed_at.eq(Some(to_db_time(ctx.now))), clock_pauses::answer.eq(answer)))
    .execute(conn)
}

fn due_json(clock: &ClockRow) -> serde_json::Value {
    json!({
        "due_date": clock.due_date.to_string(),
        "due_at": from_db_time(clock.due_at).with_timezone(&crate::calendar::shanghai()).to_rfc3339(),
        "provisional": clock.provisional,
    })
}

// ---------------------------------------------------------------------------------------------
// Assignments

fn release_assignment(
    conn: &mut DbConnection,
    ctx: &Ctx,
    complaint_id: &ComplaintId,
    reason: &str,
) -> ComplaintResult<Option<AssignmentRow>> {
    let Some(a) = store::open_assignment(conn, complaint_id)? else { return Ok(None) };
    let held = ctx.cal.working_days_between(local_date(from_db_time(a.assigned_at)), local_date(ctx.now)).max(0) as i32;
    diesel::update(complaint_assignments::table.find(&a.id))
        .set((
            complaint_assignments::released_at.eq(Some(to_db_time(ctx.now))),
            complaint_assignments::release_reason.eq(Some(reason)),
            complaint_assignments::working_days_held.eq(Some(held)),
        ))
        .execute(conn)?;
    Ok(Some(AssignmentRow { released_at: Some(to_db_time(ctx.now)), working_days_held: Some(held), ..a }))
}

fn start_assignment(
    conn: &mut DbConnection,
    ctx: &Ctx,
    complaint_id: &ComplaintId,
    department_id: &DepartmentId,
    by: Option<&UserId>,
) -> ComplaintResult<()> {
    diesel::insert_into(complaint_assignments::table)
        .values(AssignmentRow {
            id: new_id(),
            complaint_id: complaint_id.clone(),
            department_id: department_id.clone(),
            assigned_at: to_db_time(ctx.now),
            assigned_by: by.cloned(),
            released_at: None,
            release_reason: None,
            working_days_held: None,
        })
        .execute(conn)?;
    Ok(())
}

/// The department must exist, be active and take complaints (offices do not).
fn assignable_department(conn: &mut DbConnection, id: &DepartmentId) -> ComplaintResult<departments::Department> {
    let d = departments::find(conn, id)?
        .ok_or_else(|| ComplaintError::invalid("department_id", "unknown", "no such department"))?;
    if !d.active {
        return Err(ComplaintError::invalid("department_id", "inactive", "this department is deactivated"));
    }
    if d.kind() == DepartmentKind::Office {
        return Err(ComplaintError::invalid("department_id", "office", "escalation offices do not handle complaints"));
    }
    Ok(d)
}

fn department_json(d: &departments::Department) -> serde_json::Value {
    json!({"id": d.id, "name_zh": d.name_zh, "name_en": d.name_en})
}

// ---------------------------------------------------------------------------------------------
// Filing

/// A client's Idempotency-Key, kept only as two derived hashes.
#[derive(Clone)]
pub struct IdempotencyKey {
    lookup_hash: String,
    seal_key: [u8; 32],
}

impl IdempotencyKey {
    pub fn parse(raw: &str) -> ComplaintResult<IdempotencyKey> {
        let key = raw.trim();
        if key.len() < 8 || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(ComplaintError::MalformedIdempotencyKey);
        }
        let lookup_hash = hex::encode(Sha256::digest(format!("anshang/idempotency/lookup\0{key}")));
        let seal_key: [u8; 32] = Sha256::digest(format!("anshang/idempotency/seal\0{key}")).into();
        Ok(IdempotencyKey { lookup_hash, seal_key })
    }

    fn seal(&self, code: &str) -> String {
        hex::encode(code.bytes().zip(self.seal_key.iter().cycle()).map(|(b, k)| b ^ k).collect::<Vec<u8>>())
    }

    fn unseal(&self, sealed: &str) -> Option<String> {
        let bytes = hex::decode(sealed).ok()?;
        String::from_utf8(bytes.iter().zip(self.seal_key.iter().cycle()).map(|(b, k)| b ^ k).collect()).ok()
    }
}

pub struct Filed {
    pub complaint: ComplaintRow,
    pub clock: ClockRow,
    /// Shown once (and again to a retry with the same Idempotency-Key within a day).
    pub access_code: Option<String>,
    pub replayed: bool,
}

/// Files a complaint: tracking number, access code, the first reply clock, the audit event.
/// With an Idempotency-Key, a retry (even a concurrent one) returns the first filing.
pub fn file(
    conn: &mut DbConnection,
    ctx: &Ctx,
    complaint: &ValidComplaint,
    acting: &Acting,
    idempotency: Option<&(IdempotencyKey, String)>,
) -> ComplaintResult<Filed> {
    // A group of one, in a savepoint of its own: a refusal or a failure leaves the caller's
    // transaction as it found it.
    let alone = [ToFile { ctx: *ctx, complaint, acting, idempotency }];
    let filed = conn.transaction(|conn| file_together(conn, &alone)?.pop().expect("one outcome for one filing"));
    match filed {
        Err(ComplaintError::Storage(e)) if idempotency.is_some() && is_unique_violation(&e) => {
            // A concurrent request with the same key won the race; its filing is ours.
            let (key, body_hash) = idempotency.expect("checked");
            let existing = store::find_by_idempotency_key(conn, &key.lookup_hash)?.ok_or(ComplaintError::Storage(e))?;
            replay(conn, existing, key, body_hash)
        }
        other => other,
    }
}

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

fn replay(
    conn: &mut DbConnection,
    existing: ComplaintRow,
    key: &IdempotencyKey,
    body_hash: &str,
) -> ComplaintResult<Filed> {
    if existing.idempotency_body_hash.as_deref() != Some(body_hash) {
        return Err(ComplaintError::IdempotencyKeyReused);
    }
    // The sealed code answers retries for a day; after that (and once the sweeper has purged
    // it) a retry still finds the complaint but no longer sees the code.
    let fresh = from_db_time(existing.received_at) + chrono::Duration::hours(SEALED_CODE_HOURS) > crate::db::now();
    let code = existing.idempotency_sealed_code.as_deref().filter(|_| fresh).and_then(|s| key.unseal(s));
    let clock = store::current_clock(conn, &existing.id, REPLY_CLOCK)?
        .ok_or_else(|| ComplaintError::internal("complaint", "no reply clock"))?;
    Ok(Filed { complaint: existing, clock, access_code: code, replayed: true })
}

/// A filing's rows, built in memory before anything is read or written; [`NewFiling::number`]
/// gives them their tracking number.
struct NewFiling {
    row: ComplaintRow,
    code: AccessCode,
    /// The reply clock first, then the acceptance clock where one is kept.
    clocks: Vec<ClockRow>,
}

fn new_filing(
    ctx: &Ctx,
    c: ValidComplaint,
    acting: &Acting,
    idempotency: Option<&(IdempotencyKey, String)>,
) -> NewFiling {
    let year = chrono::Datelike::year(&local_date(ctx.now));
    let due = new_clock_due(ctx, ctx.rules.reply_working_days);
    let code = AccessCode::generate();
    let now = to_db_time(ctx.now);
    let (idem_hash, idem_body, sealed) = match idempotency {
        Some((key, body_hash)) => {
            (Some(key.lookup_hash.clone()), Some(body_hash.clone()), Some(key.seal(&code.display())))
        }
        None => (None, None, None),
    };
    let row = ComplaintRow {
        id: ComplaintId::generate(),
        // Set once the counter is taken (`NewFiling::number`).
        tracking_number: String::new(),
        tracking_year: year,
        tracking_seq: 0,
        channel: c.channel,
        status: Status::Received,
        language: c.language.as_str().into(),
        complainant_type: c.complainant_type.as_str().into(),
        complainant_name: c.complainant_name,
        company: c.company,
        nationality: c.nationality,
        email: c.email.map(crate::fields::EmailAddress::into_inner).unwrap_or_default(),
        phone: c.phone,
        agent_name: c.agent_name,
        agent_contact: c.agent_contact,
        project: c.project,
        concerned_department_id: c.concerned_department_id,
        concerned_staff: c.concerned_staff,
        matter_type: c.matter_type.as_str().into(),
        subject: c.subject,
        facts: c.facts,
        request: c.request,
        review_or_lawsuit: c.review_or_lawsuit,
        confidential: c.confidential,
        contact_consent: c.contact_consent,
        filed_by: acting.user_id.clone(),
        access_code_hash: code.hash(),
        department_id: None,
        received_at: now,
        due_at: Some(to_db_time(due.due_at.with_timezone(&Utc))),
        overdue: false,
        reply_text: None,
        reply_outcome: None,
        replied_at: None,
        rating: None,
        rating_comment: None,
        rated_at: None,
        closed_at: None,
        idempotency_key_hash: idem_hash,
        idempotency_body_hash: idem_body,
        idempotency_sealed_code: sealed,
        version: 1,
        updated_at: now,
    };
    let mut clocks = vec![first_clock(ctx, &row.id, REPLY_CLOCK, ctx.rules.reply_working_days, due)];
    if let Some(days) = ctx.rules.accept_working_days {
        clocks.push(first_clock(ctx, &row.id, ACCEPT_CLOCK, days, new_clock_due(ctx, days)));
    }
    NewFiling { row, code, clocks }
}

impl NewFiling {
    fn year(&self) -> i32 {
        self.row.tracking_year
    }

    /// Gives the filing the number `seq` of its year.
    fn number(&mut self, ctx: &Ctx, seq: i64) {
        self.row.tracking_seq = seq;
        self.row.tracking_number =
            TrackingNumber::new(&ctx.rules.tracking_prefix, self.row.tracking_year, seq).to_string();
    }

    /// The complaint's first audit event, sealed (once numbered: the event names the number).
    fn first_event(&self, ctx: &Ctx, acting: &Acting) -> events::InsertEvent {
        events::seal_first(NewEvent {
            complaint_id: &self.row.id,
            at: ctx.now,
            actor: acting.actor,
            actor_id: acting.user_id.as_deref(),
            action: "file",
            from: None,
            to: Status::Received,
            detail: json!({
                "tracking_number": self.row.tracking_number,
                "channel": self.row.channel.as_str(),
                "due": due_json(&self.clocks[0]),
            }),
            investor_visible: true,
        })
    }

    fn filed(mut self) -> Filed {
        let clock = self.clocks.swap_remove(0);
        Filed { complaint: self.row, clock, access_code: Some(self.code.display()), replayed: false }
    }
}

fn unknown_department() -> ComplaintError {
    ComplaintError::invalid("department_id", "unknown", "no such department")
}

/// One filing of a group written together ([`file_together`]).
pub struct ToFile<'a> {
    pub ctx: Ctx<'a>,
    pub complaint: &'a ValidComplaint,
    pub acting: &'a Acting,
    pub idempotency: Option<&'a (IdempotencyKey, String)>,
}

/// Files a group of complaints with a few statements for the whole group instead of about ten
/// per filing: one look-up of their Idempotency-Keys and one of the departments they name,
/// their receipts' budget counted together, the year's counter taken once for all of them, and
/// one multi-row INSERT per table. What needs no number comes first, so that the counter (which
/// orders all filings) stays locked for as short a time as possible; nothing is read back. The
/// answers are those [`file`] (a group of one) gives one filing after another: a retried key
/// replays its filing, an unknown department is refused (and writes nothing), numbers follow
/// the group's order. A key that comes twice in one group is left to [`file`] (an error here:
/// the caller rolls back and files one at a time), as is any failure of the storage (a key
/// another instance filed meanwhile breaks the unique index).
pub fn file_together(conn: &mut DbConnection, group: &[ToFile<'_>]) -> ComplaintResult<Vec<ComplaintResult<Filed>>> {
    let mut outcomes: Vec<Option<ComplaintResult<Filed>>> = group.iter().map(|_| None).collect();

    let keys: Vec<&str> = group.iter().filter_map(|f| f.idempotency.map(|(k, _)| k.lookup_hash.as_str())).collect();
    if keys.iter().collect::<std::collections::HashSet<_>>().len() < keys.len() {
        return Err(ComplaintError::internal("filing group", "an Idempotency-Key twice in one group"));
    }
    if !keys.is_empty() {
        let mut existing = store::find_by_idempotency_keys(conn, &keys)?;
        for (f, outcome) in group.iter().zip(outcomes.iter_mut()) {
            let Some((key, body_hash)) = f.idempotency else { continue };
            if let Some(at) =
                existing.iter().position(|row| row.idempotency_key_hash.as_ref() == Some(&key.lookup_hash))
            {
                *outcome = match replay(conn, existing.swap_remove(at), key, body_hash) {
                    // The storage failed (the transaction may be unusable): give the group up.
                    Err(ComplaintError::Storage(e)) => return Err(ComplaintError::Storage(e)),
                    answered => Some(answered),
                };
            }
        }
    }

    let named: Vec<&DepartmentId> = group.iter().filter_map(|f| f.complaint.concerned_department_id.as_ref()).collect();
    if !named.is_empty() {
        let known = departments::existing_ids(conn, &named)?;
        for (f, outcome) in group.iter().zip(outcomes.iter_mut()) {
            match &f.complaint.concerned_department_id {
                Some(d) if outcome.is_none() && !known.contains(d) => *outcome = Some(Err(unknown_department())),
                _ => {}
            }
        }
    }

    // The rest are filed, in the group's order.
    let fresh: Vec<usize> = (0..group.len()).filter(|&i| outcomes[i].is_none()).collect();
    let mut filings: Vec<NewFiling> = fresh
        .iter()
        .map(|&i| new_filing(&group[i].ctx, group[i].complaint.clone(), group[i].acting, group[i].idempotency))
        .collect();
    if !filings.is_empty() {
        // The group's filings share their instant and rules: the first one's context serves.
        let unnumbered: Vec<&ComplaintRow> = filings.iter().map(|f| &f.row).collect();
        let receipts_go =
            super::notices::admit_to_investors(conn, &group[fresh[0]].ctx, &unnumbered, super::notices::RECEIPT)?;
        // From here to the commit the group holds the counter of each year it files in.
        let mut years: Vec<i32> = filings.iter().map(NewFiling::year).collect();
        years.sort_unstable();
        years.dedup();
        for year in years {
            let of_year: Vec<usize> = (0..filings.len()).filter(|&j| filings[j].year() == year).collect();
            let last = store::take_tracking_seqs(conn, year, of_year.len() as i64)?;
            let first = last - of_year.len() as i64 + 1;
            for (seq, j) in (first..).zip(of_year) {
                filings[j].number(&group[fresh[j]].ctx, seq);
            }
        }
        let rows: Vec<&ComplaintRow> = filings.iter().map(|f| &f.row).collect();
        crate::db::on_backend!(conn, c => diesel::insert_into(complaints::table).values(rows).execute(c))?;
        let clocks: Vec<&ClockRow> = filings.iter().flat_map(|f| &f.clocks).collect();
        crate::db::on_backend!(conn, c => diesel::insert_into(complaint_clocks::table).values(clocks).execute(c))?;
        let first_events: Vec<events::InsertEvent> =
            fresh.iter().zip(&filings).map(|(&i, f)| f.first_event(&group[i].ctx, group[i].acting)).collect();
        events::insert_sealed(conn, &first_events)?;
        let mut receipts = Vec::new();
        for ((&i, filing), goes) in fresh.iter().zip(&filings).zip(receipts_go) {
            if goes {
                receipts.push(super::notices::receipt_row(&group[i].ctx, &filing.row, &filing.clocks[0], &new_id())?);
            }
        }
        if !receipts.is_empty() {
            crate::mail::outbox::insert_rows(conn, &receipts)?;
        }
    }
    for (i, filing) in fresh.into_iter().zip(filings) {
        outcomes[i] = Some(Ok(filing.filed()));
    }
    Ok(outcomes.into_iter().map(|o| o.expect("every filing of the group has its outcome")).collect())
}

/// The first clock of `kind` of a complaint filed in this transaction, with its first rung:
/// [`open_clock`] without its lookups (there is no earlier clock, rung or pause).
fn first_clock(
    ctx: &Ctx,
    complaint_id: &ComplaintId,
    kind: &str,
    working_days: u32,
    due: crate::calendar::Due,
) -> ClockRow {
    let mut row = ClockRow {
        id: new_id(),
        complaint_id: complaint_id.clone(),
        kind: kind.to_string(),
        ordinal: 1,
        started_at: to_db_time(ctx.now),
        working_days: working_days as i32,
        extension_days: 0,
        due_at: to_db_time(due.due_at.with_timezone(&Utc)),
        due_date: due.due_date,
        provisional: due.provisional,
        stopped_at: None,
        stop_reason: None,
        breached_at: None,
        next_step: None,
        next_step_at: None,
    };
    if let Some((step, at)) = crate::escalation::schedule::first_rung(ctx, &row) {
        row.next_step = Some(step);
        row.next_step_at = Some(at);
    }
    row
}

// ---------------------------------------------------------------------------------------------
// Coordination office

pub fn assign(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    department_id: &DepartmentId,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::Assign, acting)?;
        let dept = assignable_department(conn, department_id)?;
        start_assignment(conn, ctx, id, &dept.id, acting.user_id.as_ref())?;
        // The first assignment is the acceptance of the complaint.
        stop_clock(conn, ctx, id, ACCEPT_CLOCK, StopReason::Accepted)?;
        if let Some(days) = ctx.rules.conclude_working_days {
            if store::current_clock(conn, id, CONCLUDE_CLOCK)?.is_none() {
                open_clock(conn, ctx, id, CONCLUDE_CLOCK, days)?;
            }
        }
        write_row(
            conn,
            id,
            RowChange { status: Some(to), department_id: Some(Some(dept.id.clone())), ..RowChange::at(ctx.now) },
        )?;
        let notified = notify_assignment(conn, ctx, id)?;
        record(
            conn,
            ctx,
            id,
            acting,
            "assign",
            Some(from),
            to,
            json!({"department": department_json(&dept), "notified": notified}),
            true,
        )
    })
}

pub fn reassign(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    department_id: &DepartmentId,
    reason: &str,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (row, from, to) = begin(conn, id, Action::Reassign, acting)?;
        let dept = assignable_department(conn, department_id)?;
        if row.department_id.as_deref() == Some(dept.id.as_str()) {
            return Err(ComplaintError::invalid(
                "department_id",
                "unchanged",
                "the complaint is already with this department",
            ));
        }
        // The clock keeps running: reassignment never restarts it.
        let released = release_assignment(conn, ctx, id, "reassigned")?;
        start_assignment(conn, ctx, id, &dept.id, acting.user_id.as_ref())?;
        write_row(
            conn,
            id,
            RowChange { status: Some(to), department_id: Some(Some(dept.id.clone())), ..RowChange::at(ctx.now) },
        )?;
        let notified = notify_assignment(conn, ctx, id)?;
        record(
            conn,
            ctx,
            id,
            acting,
            "reassign",
            Some(from),
            to,
            json!({
                "department": department_json(&dept),
                "previous_department_id": released.as_ref().map(|a| a.department_id.clone()),
                "previous_working_days_held": released.and_then(|a| a.working_days_held),
                "reason": reason,
                "notified": notified,
            }),
            true,
        )?;
        let to_department = super::notices::department_name(conn, ctx, Some(&dept.id))?;
        match row.department_id {
            Some(previous) => notify_staff(
                conn,
                ctx,
                id,
                "reassigned_away",
                &[StaffRecipient::Department(previous)],
                json!({"to_department": to_department}),
            ),
            None => Ok(()),
        }
    })
}

/// Refuses the complaint as not investment-related; the refusal is the clear reply.
pub fn reject(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    reason: &str,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::Reject, acting)?;
        refuse(conn, ctx, id, acting, (from, to), reason, StopReason::Rejected, json!({"reason": reason}))
    })
}

/// Refuses a complaint as repeating `original` (a tracking number as typed: any case, spaces
/// around it): the clock stops with the
/// reason `duplicate`, and the investor is told, in their language, which complaint carries the
/// matter (and that they may contest). A complaint cannot repeat itself, nor one that was itself
/// refused or withdrawn (the matter would then be handled nowhere).
pub fn mark_duplicate(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    original: &str,
) -> ComplaintResult<()> {
    let refused = |code: &str, message: &str| {
        ComplaintError::Invalid(vec![crate::error::FieldError::new("duplicate_of", code, message)])
    };
    conn.transaction(|conn| {
        let (row, from, to) = begin(conn, id, Action::Reject, acting)?;
        let unknown = || refused("unknown_number", "no complaint has this tracking number");
        let number = TrackingNumber::parse(original.trim()).ok_or_else(unknown)?;
        let original = store::find_by_tracking_number(conn, &number.to_string())?.ok_or_else(unknown)?;
        if original.id == row.id {
            return Err(refused("same_complaint", "a complaint cannot repeat itself"));
        }
        if matches!(original.status, Status::Rejected | Status::Withdrawn) {
            return Err(refused(
                "not_handled",
                "that complaint was refused or withdrawn, so it does not carry the matter",
            ));
        }
        let language = super::model::Language::parse(&row.language).unwrap_or(super::model::Language::Zh);
        let text = super::duplicates::investor_notice(language, &original.tracking_number);
        let detail = json!({"reason": text, "duplicate_of": original.tracking_number});
        refuse(conn, ctx, id, acting, (from, to), &text, StopReason::Duplicate, detail)
    })
}

/// The common end of a refusal: every clock stops, the answer the investor reads is stored, the
/// trail records it and the investor is notified.
#[allow(clippy::too_many_arguments)]
fn refuse(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    (from, to): (Status, Status),
    answer: &str,
    why: StopReason,
    detail: serde_json::Value,
) -> ComplaintResult<()> {
    stop_clock(conn, ctx, id, REPLY_CLOCK, why)?;
    stop_optional_clocks(conn, ctx, id, StopReason::Refused, why)?;
    diesel::update(complaints::table.find(id))
        .set((
            complaints::reply_text.eq(Some(answer)),
            complaints::replied_at.eq(Some(to_db_time(ctx.now))),
            complaints::due_at.eq(CLOCK_STOPPED),
            complaints::status.eq(to),
            complaints::updated_at.eq(to_db_time(ctx.now)),
        ))
        .execute(conn)?;
    record(conn, ctx, id, acting, "reject", Some(from), to, detail, true)?;
    notify_investor(conn, ctx, id, "reply_available", json!({}))
}

/// The coordination office's answer to an extension request.
pub struct ExtensionDecision<'a> {
    pub request_id: &'a str,
    /// `Some(working days)` approves; `None` refuses.
    pub approved_days: Option<u32>,
    /// The office's own record; never shown to the investor.
    pub reason: &'a str,
    /// What the investor reads of an approval.
    pub investor_note: Option<&'a str>,
}

pub fn decide_extension(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    decision: ExtensionDecision<'_>,
) -> ComplaintResult<()> {
    let ExtensionDecision { request_id, approved_days, reason, investor_note } = decision;
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::DecideExtension, acting)?;
        let req: ExtensionRow = extension_requests::table
            .find(request_id)
            .filter(extension_requests::complaint_id.eq(id))
            .select(ExtensionRow::as_select())
            .first(conn)
            .optional()?
            .ok_or(ComplaintError::NoSuchExtensionRequest)?;
        if req.decision.is_some() {
            return Err(ComplaintError::ExtensionAlreadyDecided);
        }
        // A request belongs to its clock: once that clock has stopped (reply, contest) it lapses.
        if running_clock(conn, id)?.id != req.clock_id {
            return Err(ComplaintError::ExtensionForStoppedClock);
        }
        if let Some(days) = approved_days {
            if days == 0 || days > ctx.rules.max_extension_working_days {
                return Err(ComplaintError::invalid("days", "out_of_range", format!("between 1 and {} working days", ctx.rules.max_extension_working_days)));
            }
        }
        diesel::update(extension_requests::table.find(request_id))
            .set((
                extension_requests::decision.eq(Some(if approved_days.is_some() { ExtensionVerdict::Approved } else { ExtensionVerdict::Refused })),
                extension_requests::days_approved.eq(approved_days.map(|d| d as i32)),
                extension_requests::decided_by.eq(acting.user_id.clone()),
                extension_requests::decided_at.eq(Some(to_db_time(ctx.now))),
                extension_requests::decision_reason.eq(Some(reason)),
            ))
            .execute(conn)?;
        // `reason` is the coordination office's own record; `investor_note` is what the investor
        // is meant to read. A refusal changes nothing for the investor and is not shown to them.
        let mut detail = json!({"request_id": request_id, "approved": approved_days.is_some(), "days": approved_days, "reason": reason, "investor_note": investor_note});
        if let Some(days) = approved_days {
            let clock = running_clock(conn, id)?;
            diesel::update(complaint_clocks::table.find(&clock.id))
                .set(complaint_clocks::extension_days.eq(complaint_clocks::extension_days + days as i32))
                .execute(conn)?;
            let clock = refresh_clock(conn, ctx, &clock.id)?;
            write_row(conn, id, RowChange { due_at: due_of(&clock), ..RowChange::at(ctx.now) })?;
            detail["due"] = due_json(&clock);
            detail["breach_lifted"] = json!(clock.breached_at.is_some() && to_db_time(ctx.now) < clock.due_at);
        }
        record(conn, ctx, id, acting, "decide_extension", Some(from), to, detail, approved_days.is_some())?;
        if let Some(days) = approved_days {
            notify_investor(conn, ctx, id, "extension_approved", json!({"extension_working_days": days, "investor_note": investor_note.unwrap_or("")}))?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Departments

/// Hands the complaint back to the coordination office as outside the department's remit (回退).
pub fn return_to_office(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    reason: &str,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::Return, acting)?;
        let released = release_assignment(conn, ctx, id, "returned")?;
        write_row(conn, id, RowChange { status: Some(to), department_id: Some(None), ..RowChange::at(ctx.now) })?;
        record(
            conn,
            ctx,
            id,
            acting,
            "return",
            Some(from),
            to,
            json!({"reason": reason, "working_days_held": released.as_ref().and_then(|a| a.working_days_held)}),
            false,
        )?;
        let department = released.map(|a| a.department_id);
        let from_department = super::notices::department_name(conn, ctx, department.as_ref())?;
        notify_staff(
            conn,
            ctx,
            id,
            "returned",
            &[StaffRecipient::CoordinationOffice],
            json!({"reason": reason, "from_department": from_department}),
        )
    })
}

pub fn request_extension(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    days: u32,
    reason: &str,
) -> ComplaintResult<String> {
    conn.transaction(|conn| {
        let (row, from, to) = begin(conn, id, Action::RequestExtension, acting)?;
        if days == 0 || days > ctx.rules.max_extension_working_days {
            return Err(ComplaintError::invalid(
                "days",
                "out_of_range",
                format!("between 1 and {} working days", ctx.rules.max_extension_working_days),
            ));
        }
        let clock = running_clock(conn, id)?;
        if to_db_time(ctx.now) >= clock.due_at {
            return Err(ComplaintError::ExtensionAfterDeadline);
        }
        let pending: i64 = extension_requests::table
            .filter(extension_requests::clock_id.eq(&clock.id))
            .filter(extension_requests::decision.is_null())
            .count()
            .get_result(conn)?;
        if pending > 0 {
            return Err(ComplaintError::ExtensionPending);
        }
        let request_id = new_id();
        diesel::insert_into(extension_requests::table)
            .values(ExtensionRow {
                id: request_id.clone(),
                complaint_id: id.clone(),
                clock_id: clock.id.clone(),
                department_id: row
                    .department_id
                    .clone()
                    .ok_or_else(|| ComplaintError::internal("extension request", "no department holds it"))?,
                requested_by: acting
                    .user_id
                    .clone()
                    .ok_or_else(|| ComplaintError::internal("extension request", "not made by a signed-in member"))?,
                requested_at: to_db_time(ctx.now),
                days_requested: days as i32,
                reason: reason.to_string(),
                decision: None,
                days_approved: None,
                decided_by: None,
                decided_at: None,
                decision_reason: None,
            })
            .execute(conn)?;
        record(
            conn,
            ctx,
            id,
            acting,
            "request_extension",
            Some(from),
            to,
            json!({"request_id": request_id, "days": days, "reason": reason}),
            false,
        )?;
        notify_staff(
            conn,
            ctx,
            id,
            "extension_requested",
            &[StaffRecipient::CoordinationOffice],
            json!({"reason": reason, "extension_working_days": days}),
        )?;
        Ok(request_id)
    })
}

/// Asks the investor for more information; the clock pauses until they answer.
pub fn request_info(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    question: &str,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::RequestInfo, acting)?;
        running_clock(conn, id)?;
        let mut due_at = None;
        // Every running clock waits for the investor, the MOFCOM ones included.
        for clock in store::running_clocks(conn, id)? {
            diesel::insert_into(clock_pauses::table)
                .values(PauseRow {
                    id: new_id(),
                    clock_id: clock.id.clone(),
                    paused_at: to_db_time(ctx.now),
                    resumed_at: None,
                    question: question.to_string(),
                    answer: None,
                })
                .execute(conn)?;
            due_at = due_of(&refresh_clock(conn, ctx, &clock.id)?).or(due_at);
        }
        write_row(conn, id, RowChange { status: Some(to), due_at, ..RowChange::at(ctx.now) })?;
        record(conn, ctx, id, acting, "request_info", Some(from), to, json!({"question": question}), true)?;
        notify_investor(conn, ctx, id, "info_requested", json!({"question": question}))
    })
}

pub fn reply(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    text: &str,
    outcome: ReplyOutcome,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::Reply, acting)?;
        let clock = stop_clock(conn, ctx, id, REPLY_CLOCK, StopReason::Replied)?
            .ok_or_else(|| ComplaintError::internal("reply", "no running clock"))?;
        let on_time = to_db_time(ctx.now) < clock.due_at;
        release_assignment(conn, ctx, id, "replied")?;
        diesel::update(complaints::table.find(id))
            .set((
                complaints::reply_text.eq(Some(text)),
                complaints::reply_outcome.eq(Some(outcome.as_str())),
                complaints::replied_at.eq(Some(to_db_time(ctx.now))),
                complaints::due_at.eq(CLOCK_STOPPED),
                complaints::status.eq(to),
                complaints::updated_at.eq(to_db_time(ctx.now)),
            ))
            .execute(conn)?;
        record(
            conn,
            ctx,
            id,
            acting,
            "reply",
            Some(from),
            to,
            // The text is kept in the trail too: a contested case's next reply replaces the
            // row's, and the investor's conversation shows both.
            json!({"outcome": outcome.as_str(), "on_time": on_time, "due": due_json(&clock), "text": text}),
            true,
        )?;
        notify_investor(conn, ctx, id, "reply_available", json!({}))
    })
}

/// An internal note: staff who may handle the complaint (the coordination office, the holding
/// department) write down what the investor is not told. It changes nothing about the complaint;
/// it is kept in the trail, chained like every change, and never shown to the investor.
pub fn add_note(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    text: &str,
) -> ComplaintResult<()> {
    if !matches!(acting.actor, Actor::Coordinator | Actor::Department) {
        return Err(ComplaintError::internal("note", "only handling staff write internal notes"));
    }
    conn.transaction(|conn| {
        let row = load_locked(conn, id)?;
        ensure_department_scope(&row, acting)?;
        // The author's name as it was when the note was written (accounts may be renamed).
        let author: Option<String> = match &acting.user_id {
            Some(user) => crate::db::schema::users::table
                .find(user.to_string())
                .select(crate::db::schema::users::display_name)
                .first(conn)
                .optional()?,
            None => None,
        };
        record(
            conn,
            ctx,
            id,
            acting,
            "note",
            Some(row.status),
            row.status,
            json!({"text": text, "author": author}),
            false,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Investor

pub fn answer_info(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    answer: &str,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::AnswerInfo, acting)?;
        let mut due_at = None;
        for clock in store::running_clocks(conn, id)? {
            close_open_pause(conn, ctx, &clock.id, Some(answer))?;
            due_at = due_of(&refresh_clock(conn, ctx, &clock.id)?).or(due_at);
        }
        let clock = running_clock(conn, id)?;
        write_row(conn, id, RowChange { status: Some(to), due_at, ..RowChange::at(ctx.now) })?;
        // The answer is kept in the trail too: the pause that holds it belongs to its clock, and
        // after a contest the conversation is read beside a newer one.
        let detail = json!({"due": due_json(&clock), "answer": answer});
        record(conn, ctx, id, acting, "answer_info", Some(from), to, detail, true)?;
        notify_staff(conn, ctx, id, "info_answered", &[StaffRecipient::HoldingDepartment], json!({}))
    })
}

pub fn rate(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    rating: Rating,
    comment: Option<&str>,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (row, from, closed) = begin(conn, id, Action::Rate, acting)?;
        // "Dissatisfied" is recorded but does not take away the right to contest: the case stays
        // open until the contest window ends (then it closes itself) or a contest is filed.
        let keeps_contest_open = rating == Rating::Dissatisfied;
        let to = if keeps_contest_open { from } else { closed };
        let closed_at = (!keeps_contest_open).then(|| to_db_time(ctx.now));
        if !keeps_contest_open {
            stop_clock(conn, ctx, id, CONCLUDE_CLOCK, StopReason::Closed)?;
        }
        diesel::update(complaints::table.find(id))
            .set((
                complaints::rating.eq(Some(rating.as_str())),
                complaints::rating_comment.eq(comment),
                complaints::rated_at.eq(Some(to_db_time(ctx.now))),
                complaints::closed_at.eq(closed_at),
            ))
            .execute(conn)?;
        set_status(conn, id, to, ctx.now)?;
        record(conn, ctx, id, acting, "rate", Some(from), to, json!({"rating": rating.as_str()}), true)?;
        if keeps_contest_open {
            let replied_at = row
                .replied_at
                .map(from_db_time)
                .ok_or_else(|| ComplaintError::internal("rate", "reply without time"))?;
            let until = contest_deadline(ctx, replied_at);
            notify_investor(
                conn,
                ctx,
                id,
                "rated_dissatisfied",
                json!({"contest_until": super::notices::local_time_text(until.with_timezone(&Utc))}),
            )
        } else {
            notify_investor(conn, ctx, id, "closed", json!({}))
        }
    })
}

pub fn contest(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    reason: &str,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (row, from, to) = begin(conn, id, Action::Contest, acting)?;
        let replied_at = row
            .replied_at
            .map(from_db_time)
            .ok_or_else(|| ComplaintError::internal("contest", "reply without time"))?;
        if ctx.now >= contest_deadline(ctx, replied_at) {
            return Err(ComplaintError::ContestWindowClosed { working_days: ctx.rules.contest_window_working_days });
        }
        // A contested reply opens a new clock; the coordination office re-handles the case.
        let clock = open_clock(conn, ctx, id, REPLY_CLOCK, ctx.rules.reply_working_days)?;
        diesel::update(complaints::table.find(id))
            .set((
                complaints::department_id.eq(None::<String>),
                complaints::overdue.eq(false),
                complaints::due_at.eq(Some(clock.due_at)),
                complaints::status.eq(to),
                complaints::updated_at.eq(to_db_time(ctx.now)),
            ))
            .execute(conn)?;
        record(
            conn,
            ctx,
            id,
            acting,
            "contest",
            Some(from),
            to,
            json!({"reason": reason, "due": due_json(&clock)}),
            true,
        )?;
        notify_investor(conn, ctx, id, "contest_received", json!({}))?;
        let mut told = vec![StaffRecipient::CoordinationOffice];
        told.extend(row.department_id.clone().map(StaffRecipient::Department));
        notify_staff(conn, ctx, id, "contested", &told, json!({"reason": reason}))
    })
}

pub fn withdraw(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    reason: Option<&str>,
) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (_, from, to) = begin(conn, id, Action::Withdraw, acting)?;
        stop_clock(conn, ctx, id, REPLY_CLOCK, StopReason::Withdrawn)?;
        stop_optional_clocks(conn, ctx, id, StopReason::Withdrawn, StopReason::Withdrawn)?;
        release_assignment(conn, ctx, id, "withdrawn")?;
        diesel::update(complaints::table.find(id))
            .set((
                complaints::closed_at.eq(Some(to_db_time(ctx.now))),
                complaints::due_at.eq(CLOCK_STOPPED),
                complaints::status.eq(to),
                complaints::updated_at.eq(to_db_time(ctx.now)),
            ))
            .execute(conn)?;
        record(conn, ctx, id, acting, "withdraw", Some(from), to, json!({"reason": reason}), true)?;
        notify_investor(conn, ctx, id, "withdrawn", json!({}))
    })
}

/// Closes replies (and refusals) whose contest window has passed without a rating. Returns
/// how many were closed. Safe to run repeatedly and from several instances.
pub fn auto_close_expired(conn: &mut DbConnection, ctx: &Ctx) -> ComplaintResult<usize> {
    let candidates: Vec<(ComplaintId, chrono::NaiveDateTime)> = complaints::table
        .filter(complaints::status.eq_any([Status::Replied, Status::Rejected]))
        .filter(complaints::replied_at.is_not_null())
        .select((complaints::id, complaints::replied_at.assume_not_null()))
        .load(conn)?;
    let mut closed = 0;
    for (id, replied_at) in candidates {
        if ctx.now < contest_deadline(ctx, from_db_time(replied_at)) {
            continue;
        }
        let result = conn.transaction(|conn| {
            let (_, from, to) = begin(conn, &id, Action::AutoClose, &Acting::system())?;
            stop_clock(conn, ctx, &id, CONCLUDE_CLOCK, StopReason::Closed)?;
            diesel::update(complaints::table.find(&id))
                .set(complaints::closed_at.eq(Some(to_db_time(ctx.now))))
                .execute(conn)?;
            set_status(conn, &id, to, ctx.now)?;
            record(
                conn,
                ctx,
                &id,
                &Acting::system(),
                "auto_close",
                Some(from),
                to,
                json!({"reason": "contest window passed without a rating"}),
                true,
            )?;
            notify_investor(conn, ctx, &id, "closed", json!({}))
        });
        match result {
            Ok(()) => closed += 1,
            // Someone else (the investor, another instance) changed it first.
            Err(e) if e.is_state_conflict() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(closed)
}

/// An open clock whose due instant a calendar change moves.
#[derive(serde::Serialize, utoipa::ToSchema, Debug)]
pub struct MovedDeadline {
    pub tracking_number: String,
    /// `reply`, or a MOFCOM `accept` / `conclude` clock.
    pub clock: String,
    pub previous_due_at: DateTime<chrono::FixedOffset>,
    pub due_at: DateTime<chrono::FixedOffset>,
    /// The department holding the complaint (none while the coordination office holds it).
    pub department: Option<super::views::DepartmentRef>,
}

/// The open clocks whose due instant `ctx.cal` would move, without changing anything: what a
/// calendar load will do (its dry run), and what it did.
pub fn deadlines_moved_by(conn: &mut DbConnection, ctx: &Ctx) -> ComplaintResult<Vec<MovedDeadline>> {
    let mut moved = Vec::new();
    for clock in store::open_clocks(conn)? {
        let pauses = store::pauses_of(conn, &clock.id)?;
        let due = calendar_clock(&clock, &pauses, ctx.rules.cutoff).due(ctx.cal, ctx.now);
        let due_at = to_db_time(due.due_at.with_timezone(&Utc));
        if due_at == clock.due_at {
            continue;
        }
        let Some(row) = store::find(conn, &clock.complaint_id)? else { continue };
        let department = match &row.department_id {
            Some(d) => departments::find(conn, d)?.map(|d| super::views::DepartmentRef {
                id: d.id.into(),
                name_zh: d.name_zh,
                name_en: d.name_en,
            }),
            None => None,
        };
        let shanghai = crate::calendar::shanghai();
        moved.push(MovedDeadline {
            tracking_number: row.tracking_number,
            clock: clock.kind.clone(),
            previous_due_at: from_db_time(clock.due_at).with_timezone(&shanghai),
            due_at: due.due_at.with_timezone(&shanghai),
            department,
        });
    }
    moved.sort_by(|a, b| (&a.tracking_number, &a.clock).cmp(&(&b.tracking_number, &b.clock)));
    Ok(moved)
}

/// After a calendar change: recompute every open clock; where a due date or its provisional flag
/// changed, record an event. Where a reply clock's due instant moved, the investor (in their
/// language) and the holding department are told the new date and why; pending rungs are
/// re-armed and queued ones re-checked (`record`). `calendar_year` names the official year that
/// was loaded, if that is the cause. Returns how many clocks changed.
pub fn recompute_open_clocks(
    conn: &mut DbConnection,
    ctx: &Ctx,
    reason: &str,
    calendar_year: Option<i32>,
) -> ComplaintResult<usize> {
    let open = store::open_clocks(conn)?;
    let mut moved = 0;
    for clock in open {
        conn.transaction(|conn| {
            let row = load_locked(conn, &clock.complaint_id)?;
            // It may have stopped since the list was read: a stopped clock's record is final.
            let current: ClockRow = complaint_clocks::table.find(&clock.id).select(ClockRow::as_select()).first(conn)?;
            if current.stopped_at.is_some() {
                return Ok(());
            }
            let before = (current.due_date, current.provisional);
            let fresh = refresh_clock(conn, ctx, &clock.id)?;
            if let Some(due_at) = due_of(&fresh) {
                diesel::update(complaints::table.find(&row.id)).set(complaints::due_at.eq(due_at)).execute(conn)?;
            }
            if before != (fresh.due_date, fresh.provisional) || current.due_at != fresh.due_at {
                let status = row.status;
                record(
                    conn,
                    ctx,
                    &row.id,
                    &Acting::system(),
                    "calendar_recomputed",
                    Some(status),
                    status,
                    json!({
                        "reason": reason,
                        "calendar_year": calendar_year,
                        "clock": current.kind,
                        "clock_id": current.id,
                        "previous_due_date": before.0.to_string(),
                        "previous_due_at": from_db_time(current.due_at).with_timezone(&crate::calendar::shanghai()).to_rfc3339(),
                        "previous_provisional": before.1,
                        "due": due_json(&fresh),
                    }),
                    true,
                )?;
                if current.kind == REPLY_CLOCK && current.due_at != fresh.due_at {
                    let extra = json!({
                        "previous_due_at": super::notices::local_time_text(from_db_time(current.due_at)),
                        "calendar_year": calendar_year.map(|y| y.to_string()).unwrap_or_default(),
                    });
                    notify_investor(conn, ctx, &row.id, "due_date_moved", extra.clone())?;
                    if row.department_id.is_some() {
                        notify_staff(conn, ctx, &row.id, "due_date_moved_department", &[StaffRecipient::HoldingDepartment], extra)?;
                    }
                }
                moved += 1;
            }
            Ok::<_, ComplaintError>(())
        })?;
    }
    Ok(moved)
}

/// What loading an official calendar year did (or, as a dry run, would do).
pub struct CalendarLoad {
    /// The calendar with the year in place, for the running instance to switch to.
    pub calendar: WorkingCalendar,
    /// Open clocks whose due instant moves.
    pub moved: Vec<MovedDeadline>,
    /// Open clocks changed (due date moved, or no longer provisional).
    pub clocks_recomputed: usize,
}

/// Loads an official calendar year: in one transaction, stores it, recomputes every open clock,
/// records the events and queues the notices of the deadlines it moves. A dry run reports the
/// moves and changes nothing.
pub fn load_official_year(
    conn: &mut DbConnection,
    rules: &Rules,
    calendar_dir: &std::path::Path,
    year: &crate::calendar::CalendarYear,
    actor: Option<&str>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> ComplaintResult<CalendarLoad> {
    use crate::calendar::runtime;
    let mut years = runtime::official_years(calendar_dir, Some(conn))
        .map_err(|e| ComplaintError::internal("reading calendar years", e))?;
    years.insert(year.year, (year.clone(), runtime::YearSource::Database));
    let calendar = WorkingCalendar::new(years.into_values().map(|(y, _)| y).collect())
        .map_err(|e| ComplaintError::internal("building the calendar", e))?;
    let ctx = rules.ctx(&calendar, now);
    if dry_run {
        let moved = deadlines_moved_by(conn, &ctx)?;
        return Ok(CalendarLoad { calendar, moved, clocks_recomputed: 0 });
    }
    let (moved, clocks_recomputed) = conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        let moved = deadlines_moved_by(conn, &ctx)?;
        runtime::store_year(conn, year, actor, now)
            .map_err(|e| ComplaintError::internal("storing calendar year", e))?;
        let recomputed =
            recompute_open_clocks(conn, &ctx, &format!("official calendar {} loaded", year.year), Some(year.year))?;
        Ok::<_, ComplaintError>((moved, recomputed))
    })?;
    Ok(CalendarLoad { calendar, moved, clocks_recomputed })
}

/// Everything the views need about one complaint, read from the database (the chain check
/// reads through this: it must see the stored trail, never a cached one).
pub fn load_full(conn: &mut DbConnection, row: ComplaintRow) -> ComplaintResult<super::views::Loaded> {
    let department = department_of(conn, &row)?;
    let related = Arc::new(load_related(conn, &row.id)?);
    Ok(super::views::Loaded { row, department, related })
}

/// [`load_full`] for the views, through the cache of what changes only with the row's version
/// (`related_cache`): on a hit nothing more is read than the row and its department, which come
/// in one statement (`store::find_with_department` and the like).
pub fn load_viewed(
    conn: &mut DbConnection,
    ctx: &Ctx,
    (row, department): store::WithDepartment,
) -> ComplaintResult<super::views::Loaded> {
    let department = department.map(super::views::DepartmentRef::from);
    let cache = &ctx.rules.related;
    let related = match cache.get(&row.id, row.version) {
        Some(related) => related,
        None => {
            let related = Arc::new(load_related(conn, &row.id)?);
            // Kept only if no change committed while it was read (a change bumps the version).
            let version: Option<i32> =
                complaints::table.find(&row.id).select(complaints::version).first(conn).optional()?;
            if version == Some(row.version) {
                cache.put(row.id.clone(), row.version, related.clone());
            }
            related
        }
    };
    Ok(super::views::Loaded { row, department, related })
}

fn department_of(conn: &mut DbConnection, row: &ComplaintRow) -> ComplaintResult<Option<super::views::DepartmentRef>> {
    Ok(match &row.department_id {
        Some(d) => departments::find(conn, d)?.map(|d| super::views::DepartmentRef {
            id: d.id.into(),
            name_zh: d.name_zh,
            name_en: d.name_en,
        }),
        None => None,
    })
}

fn load_related(conn: &mut DbConnection, id: &ComplaintId) -> ComplaintResult<super::related_cache::Related> {
    let clock = store::current_clock(conn, id, REPLY_CLOCK)?
        .ok_or_else(|| ComplaintError::internal("complaint", "no reply clock"))?;
    let pauses = store::pauses_of(conn, &clock.id)?;
    let assignments = store::assignments_of(conn, id)?;
    let extensions = store::extensions_of(conn, id)?;
    let events = events::for_complaint(conn, id)?;
    let mut other_clocks = Vec::new();
    for other in store::clocks_of(conn, id)?.into_iter().filter(|c| c.kind != REPLY_CLOCK) {
        let p = store::pauses_of(conn, &other.id)?;
        other_clocks.push((other, p));
    }
    let attachments = super::attachments::list(conn, id)?;
    Ok(super::related_cache::Related { clock, pauses, other_clocks, assignments, extensions, events, attachments })
}

/// Whether a file may be added now (the complaint exists in the caller's scope, is not closed,
/// and has room): asked before an upload's body is read, and again when the file is recorded.
pub fn check_attachable(
    conn: &mut DbConnection,
    id: &ComplaintId,
    acting: &Acting,
    max_count: u32,
) -> ComplaintResult<()> {
    let row = store::find(conn, id)?.ok_or_else(|| ComplaintError::NotFound)?;
    ensure_department_scope(&row, acting)?;
    attachable(conn, &row, max_count)
}

fn attachable(conn: &mut DbConnection, row: &ComplaintRow, max_count: u32) -> ComplaintResult<()> {
    let status = row.status;
    if status.is_terminal() {
        return Err(ComplaintError::NotAttachable { current: status });
    }
    if super::attachments::count(conn, &row.id)? >= i64::from(max_count) {
        return Err(ComplaintError::TooManyAttachments { max: max_count });
    }
    Ok(())
}

/// Records an uploaded file on an open complaint, its content copied from the staged file into
/// the database in the same transaction (nothing is acknowledged before it is stored; a failed
/// transaction stores nothing).
#[allow(clippy::too_many_arguments)]
pub fn attach(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: &ComplaintId,
    acting: &Acting,
    filename: &str,
    content_type: &str,
    staged: &super::attachments::Staged,
    max_count: u32,
) -> ComplaintResult<String> {
    let (sha256, size) = (staged.sha256.as_str(), staged.size);
    conn.transaction(|conn| {
        let row = load_locked(conn, id)?;
        ensure_department_scope(&row, acting)?;
        attachable(conn, &row, max_count)?;
        let status = row.status;
        let attachment_id = new_id();
        super::attachment_store::store(conn, sha256, size, staged.path())?;
        diesel::insert_into(crate::db::schema::complaint_attachments::table)
            .values(super::attachments::AttachmentRow {
                id: attachment_id.clone(),
                complaint_id: id.clone(),
                sha256: sha256.to_string(),
                filename: filename.to_string(),
                content_type: content_type.to_string(),
                size_bytes: size as i64,
                uploaded_at: to_db_time(ctx.now),
                uploaded_by: acting.user_id.clone().map(String::from).unwrap_or_else(|| "investor".into()),
            })
            .execute(conn)?;
        record(
            conn,
            ctx,
            id,
            acting,
            "attach",
            Some(status),
            status,
            json!({"attachment_id": attachment_id, "filename": filename, "size_bytes": size}),
            true,
        )?;
        Ok(attachment_id)
    })
}
