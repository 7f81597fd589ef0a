//! Append-only log of administrative changes (accounts, departments, calendar years, sign-outs,
//! the audit trail's own re-seal), written in the same transaction as the change it records.
//! Its rows form one chain: each carries a sequence number, the previous row's link and its own,
//! an HMAC-SHA256 under the audit key (`crate::audit`), so a removed, edited or reordered row
//! shows in `anshang audit verify`.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::audit;
use crate::db::schema::admin_events;
use crate::db::{new_id, to_db_time, DbConnection};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Advisory lock key (PostgreSQL) that orders appends to the admin log's single chain.
const CHAIN_LOCK_KEY: i64 = 0x616e_7368_6164_6d6c;

#[derive(Insertable)]
#[diesel(table_name = admin_events)]
struct NewAdminEvent<'a> {
    id: String,
    at: NaiveDateTime,
    actor_id: Option<&'a str>,
    action: &'a str,
    subject: &'a str,
    detail: String,
    seq: Option<i32>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = admin_events)]
pub struct AdminEventRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub actor_id: Option<String>,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub seq: Option<i32>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn message(
    prev_hash: &str,
    seq: i32,
    id: &str,
    at: NaiveDateTime,
    actor_id: Option<&str>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Vec<u8> {
    let at = at.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let seq = seq.to_string();
    audit::fields_message(&[prev_hash, &seq, id, &at, actor_id.unwrap_or("\u{0}"), action, subject, detail], None)
}

/// Takes the chain's lock for the rest of the transaction (appends take turns).
fn lock_chain(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})")).execute(pg).map(|_| ())
        }
        DbConnection::Sqlite(_) => crate::db::write_lock(conn),
    }
}

fn last_link(conn: &mut DbConnection) -> QueryResult<(i32, String)> {
    let last: Option<(Option<i32>, Option<String>)> = admin_events::table
        .filter(admin_events::seq.is_not_null())
        .order(admin_events::seq.desc())
        .select((admin_events::seq, admin_events::hash))
        .first(conn)
        .optional()?;
    Ok(match last {
        Some((Some(seq), Some(hash))) => (seq, hash),
        _ => (0, GENESIS_HASH.to_string()),
    })
}

/// Records `action` on `subject` by `actor` (None for the system or the CLI).
pub fn record(
    conn: &mut DbConnection,
    at: DateTime<Utc>,
    actor: Option<&str>,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        lock_chain(conn)?;
        let (last_seq, prev_hash) = last_link(conn)?;
        let (id, at, detail, seq) = (new_id(), to_db_time(at), detail.to_string(), last_seq + 1);
        let hash = audit::seal(&message(&prev_hash, seq, &id, at, actor, action, subject, &detail));
        diesel::insert_into(admin_events::table)
            .values(NewAdminEvent {
                id,
                at,
                actor_id: actor,
                action,
                subject,
                detail,
                seq: Some(seq),
                prev_hash: Some(prev_hash),
                hash: Some(hash),
            })
            .execute(conn)
            .map(|_| ())
    })
}

/// The first break in the admin log's chain, if any: `(seq or position, problem)`.
pub fn verify(conn: &mut DbConnection) -> QueryResult<(usize, Option<(i64, String)>)> {
    let rows: Vec<AdminEventRow> = admin_events::table
        .order((admin_events::seq.asc(), admin_events::id.asc()))
        .select(AdminEventRow::as_select())
        .load(conn)?;
    let mut prev = GENESIS_HASH.to_string();
    for (i, r) in rows.iter().enumerate() {
        let (Some(seq), Some(prev_hash), Some(hash)) = (r.seq, r.prev_hash.as_deref(), r.hash.as_deref()) else {
            return Ok((
                rows.len(),
                Some((i as i64 + 1, "a row outside the chain (no sequence number or link)".into())),
            ));
        };
        if seq != i as i32 + 1 {
            return Ok((rows.len(), Some((seq.into(), "an entry is missing or out of order".into()))));
        }
        if prev_hash != prev {
            return Ok((rows.len(), Some((seq.into(), "the link to the previous entry is broken".into()))));
        }
        if audit::seal(&message(prev_hash, seq, &r.id, r.at, r.actor_id.as_deref(), &r.action, &r.subject, &r.detail))
            != hash
        {
            return Ok((rows.len(), Some((seq.into(), "the entry's content does not match its link (edited)".into()))));
        }
        prev = hash.to_string();
    }
    Ok((rows.len(), None))
}

/// Chains the rows written before the log had a chain (in the order they were written), after
/// any already chained. Returns how many were chained.
pub fn chain_unchained(conn: &mut DbConnection) -> QueryResult<usize> {
    lock_chain(conn)?;
    let (mut seq, mut prev) = last_link(conn)?;
    let rows: Vec<AdminEventRow> = admin_events::table
        .filter(admin_events::seq.is_null())
        .order((admin_events::at.asc(), admin_events::id.asc()))
        .select(AdminEventRow::as_select())
        .load(conn)?;
    for r in &rows {
        seq += 1;
        let hash =
            audit::seal(&message(&prev, seq, &r.id, r.at, r.actor_id.as_deref(), &r.action, &r.subject, &r.detail));
        diesel::update(admin_events::table.find(&r.id))
            .set((
                admin_events::seq.eq(Some(seq)),
                admin_events::prev_hash.eq(Some(&prev)),
                admin_events::hash.eq(Some(&hash)),
            ))
            .execute(conn)?;
        prev = hash;
    }
    Ok(rows.len())
}
