//! The audit trail: one append-only event per change of a complaint, written in the changing
//! transaction and chained per complaint so that an edited, removed or reordered row is
//! detected by `verify_chain` (`anshang audit verify`, `GET …/events`). Each link is an
//! HMAC-SHA256 under the audit key (`crate::audit`), which is kept outside the database: a
//! forged history cannot be re-chained without it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit;
use crate::ids::ComplaintId;

use super::state::{Actor, Status};
use crate::db::schema::complaint_events;
use crate::db::{from_db_time, new_id, to_db_time, DbConnection};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = complaint_events)]
pub struct EventRow {
    pub id: String,
    pub complaint_id: ComplaintId,
    pub seq: i32,
    pub at: NaiveDateTime,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub detail: String,
    pub investor_visible: bool,
    pub prev_hash: String,
    pub hash: String,
}

/// What a change records.
pub struct NewEvent<'a> {
    pub complaint_id: &'a ComplaintId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub actor_id: Option<&'a str>,
    pub action: &'a str,
    pub from: Option<Status>,
    pub to: Status,
    pub detail: serde_json::Value,
    pub investor_visible: bool,
}

/// An event sealed and ready to be written.
#[derive(Insertable)]
#[diesel(table_name = complaint_events)]
pub struct InsertEvent {
    id: String,
    complaint_id: String,
    seq: i32,
    at: NaiveDateTime,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    from_status: Option<String>,
    to_status: String,
    detail: String,
    investor_visible: bool,
    prev_hash: String,
    hash: String,
}

fn actor_kind(actor: Actor) -> &'static str {
    match actor {
        Actor::Investor => "investor",
        Actor::Operator => "operator",
        Actor::Department => "department",
        Actor::Coordinator => "coordinator",
        Actor::Commission => "commission",
        Actor::Admin => "admin",
        Actor::System => "system",
    }
}

/// The bytes a link covers: every column but `id` and the hash itself, length-prefixed so that
/// no two different events serialise alike.
#[allow(clippy::too_many_arguments)]
fn event_message(
    prev_hash: &str,
    complaint_id: &str,
    seq: i32,
    at: NaiveDateTime,
    actor_kind: &str,
    actor_id: Option<&str>,
    action: &str,
    from_status: Option<&str>,
    to_status: &str,
    detail: &str,
    investor_visible: bool,
) -> Vec<u8> {
    let at = at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let seq = seq.to_string();
    audit::fields_message(
        &[
            prev_hash,
            complaint_id,
            &seq,
            &at,
            actor_kind,
            actor_id.unwrap_or("\u{0}"),
            action,
            from_status.unwrap_or("\u{0}"),
            to_status,
            detail,
        ],
        Some(investor_visible),
    )
}

fn row_message(e: &EventRow, prev_hash: &str) -> Vec<u8> {
    event_message(
        prev_hash,
        e.complaint_id.as_str(),
        e.seq,
        e.at,
        &e.actor_kind,
        e.actor_id.as_deref(),
        &e.action,
        e.from_status.as_deref(),
        &e.to_status,
        &e.detail,
        e.investor_visible,
    )
}

/// Appends the event after the complaint's last one. The UNIQUE (complaint_id, seq) constraint
/// makes a concurrent append fail instead of forking the chain.
pub fn append(conn: &mut DbConnection, e: NewEvent<'_>) -> QueryResult<()> {
    let last: Option<(i32, String)> = complaint_events::table
        .filter(complaint_events::complaint_id.eq(e.complaint_id))
        .order(complaint_events::seq.desc())
        .select((complaint_events::seq, complaint_events::hash))
        .first(conn)
        .optional()?;
    let (seq, prev_hash) = match last {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS_HASH.to_string()),
    };
    insert(conn, e, seq, prev_hash)
}

/// The first event of a complaint created in this transaction: its chain starts at the
/// genesis hash, so there is nothing to look up.
pub fn append_first(conn: &mut DbConnection, e: NewEvent<'_>) -> QueryResult<()> {
    insert(conn, e, 1, GENESIS_HASH.to_string())
}

/// The first event of a complaint filed in this transaction, sealed, for a caller that writes
/// several complaints' first events in one statement ([`insert_sealed`]).
pub fn seal_first(e: NewEvent<'_>) -> InsertEvent {
    sealed(e, 1, GENESIS_HASH.to_string())
}

/// Writes sealed events in one statement.
pub fn insert_sealed(conn: &mut DbConnection, events: &[InsertEvent]) -> QueryResult<()> {
    crate::db::on_backend!(conn, c => diesel::insert_into(complaint_events::table).values(events).execute(c))?;
    Ok(())
}

fn insert(conn: &mut DbConnection, e: NewEvent<'_>, seq: i32, prev_hash: String) -> QueryResult<()> {
    diesel::insert_into(complaint_events::table).values(sealed(e, seq, prev_hash)).execute(conn).map(|_| ())
}

fn sealed(e: NewEvent<'_>, seq: i32, prev_hash: String) -> InsertEvent {
    let at = to_db_time(e.at);
    let detail = e.detail.to_string();
    let kind = actor_kind(e.actor);
    let from = e.from.map(Status::as_str);
    let hash = audit::seal(&event_message(
        &prev_hash,
        e.complaint_id.as_str(),
        seq,
        at,
        kind,
        e.actor_id,
        e.action,
        from,
        e.to.as_str(),
        &detail,
        e.investor_visible,
    ));
    InsertEvent {
        id: new_id(),
        complaint_id: e.complaint_id.to_string(),
        seq,
        at,
        actor_kind: kind.to_string(),
        actor_id: e.actor_id.map(str::to_string),
        action: e.action.to_string(),
        from_status: from.map(str::to_string),
        to_status: e.to.as_str().to_string(),
        detail,
        investor_visible: e.investor_visible,
        prev_hash,
        hash,
    }
}

pub fn for_complaint(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<Vec<EventRow>> {
    complaint_events::table
        .filter(complaint_events::complaint_id.eq(complaint_id))
        .order(complaint_events::seq.asc())
        .select(EventRow::as_select())
        .load(conn)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainBreak {
    pub complaint_id: String,
    pub seq: i32,
    pub problem: String,
}

/// Checks one complaint's events (ordered by seq): contiguous numbering, each `prev_hash` equal
/// to the previous `hash`, each `hash` recomputed from the row.
pub fn verify_chain(events: &[EventRow]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS_HASH.to_string();
    for (i, e) in events.iter().enumerate() {
        let brk = |problem: &str| ChainBreak {
            complaint_id: e.complaint_id.to_string(),
            seq: e.seq,
            problem: problem.to_string(),
        };
        if e.seq != i as i32 + 1 {
            return Err(brk("an event is missing or out of order"));
        }
        if e.prev_hash != prev {
            return Err(brk("the link to the previous event is broken"));
        }
        let recomputed = audit::seal(&row_message(e, &e.prev_hash));
        if recomputed != e.hash {
            return Err(brk("the event's content does not match its hash (edited)"));
        }
        prev = e.hash.clone();
    }
    Ok(())
}

/// Verifies every complaint's chain; returns how many events were checked and the breaks.
pub fn verify_all(conn: &mut DbConnection) -> QueryResult<(usize, Vec<ChainBreak>)> {
    let rows: Vec<EventRow> = complaint_events::table
        .order((complaint_events::complaint_id.asc(), complaint_events::seq.asc()))
        .select(EventRow::as_select())
        .load(conn)?;
    let mut breaks = Vec::new();
    for chunk in rows.chunk_by(|a, b| a.complaint_id == b.complaint_id) {
        if let Err(b) = verify_chain(chunk) {
            breaks.push(b);
        }
    }
    Ok((rows.len(), breaks))
}

/// What re-sealing the chains of a database written before the key did.
#[derive(Debug, Default, Serialize)]
pub struct Resealed {
    pub events: usize,
    pub complaints: usize,
    /// Complaints whose chain did not verify under the old, unkeyed recipe: left as they were,
    /// so that they keep showing as broken.
    pub left_broken: Vec<String>,
}

/// Re-seals every complaint chain that verifies under the unkeyed recipe (SHA-256 over the
/// same bytes) with the audit key; chains that do not verify are left alone.
pub fn reseal_unkeyed(conn: &mut DbConnection) -> QueryResult<Resealed> {
    let rows: Vec<EventRow> = complaint_events::table
        .order((complaint_events::complaint_id.asc(), complaint_events::seq.asc()))
        .select(EventRow::as_select())
        .load(conn)?;
    let mut done = Resealed::default();
    for chain in rows.chunk_by(|a, b| a.complaint_id == b.complaint_id) {
        let mut prev = GENESIS_HASH.to_string();
        let intact = chain.iter().enumerate().all(|(i, e)| {
            let ok = e.seq == i as i32 + 1
                && e.prev_hash == prev
                && hex::encode(Sha256::digest(row_message(e, &e.prev_hash))) == e.hash;
            prev = e.hash.clone();
            ok
        });
        if !intact {
            done.left_broken.push(chain[0].complaint_id.to_string());
            continue;
        }
        let mut prev = GENESIS_HASH.to_string();
        for e in chain {
            let hash = audit::seal(&row_message(e, &prev));
            diesel::update(complaint_events::table.find(&e.id))
                .set((complaint_events::prev_hash.eq(&prev), complaint_events::hash.eq(&hash)))
                .execute(conn)?;
            prev = hash;
            done.events += 1;
        }
        done.complaints += 1;
    }
    Ok(done)
}

/// An event as the API shows it.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct EventView {
    pub seq: i32,
    pub at: DateTime<chrono::FixedOffset>,
    pub actor: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub hash: String,
}

impl From<&EventRow> for EventView {
    fn from(e: &EventRow) -> Self {
        EventView {
            seq: e.seq,
            at: from_db_time(e.at).with_timezone(&crate::calendar::shanghai()),
            actor: e.actor_kind.clone(),
            action: e.action.clone(),
            from_status: e.from_status.clone(),
            to_status: e.to_status.clone(),
            detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            hash: e.hash.clone(),
        }
    }
}
