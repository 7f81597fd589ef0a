//! Append-only log of administrative changes (accounts, departments, calendar years), written in
//! the same transaction as the change it records.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::schema::admin_events;
use crate::db::{new_id, to_db_time, DbConnection};

#[derive(Insertable)]
#[diesel(table_name = admin_events)]
struct NewAdminEvent<'a> {
    id: String,
    at: chrono::NaiveDateTime,
    actor_id: Option<&'a str>,
    action: &'a str,
    subject: &'a str,
    detail: String,
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
    diesel::insert_into(admin_events::table)
        .values(NewAdminEvent { id: new_id(), at: to_db_time(at), actor_id: actor, action, subject, detail: detail.to_string() })
        .execute(conn)
        .map(|_| ())
}
