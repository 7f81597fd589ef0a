//! The operators' call-back list: a hotline caller may give a phone number and no email address,
//! and then every notice the complaint would email them (a question from the department, the
//! reply, the closing, …) becomes a line here instead, with the notice's text in the caller's
//! language, until an operator has called and marks it done. Marking it done is recorded in the
//! complaint's trail ("called back", with the notice), so the record shows the caller was told.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::context::{Acting, Ctx};
use super::error::{ComplaintError, ComplaintResult};
use super::events::{self, NewEvent};
use super::model::Language;
use super::store::{self, ComplaintRow};
use crate::db::schema::{callbacks, complaints};
use crate::db::{new_id, to_db_time, DbConnection};
use crate::ids::ComplaintId;

/// The trail's name for a call made.
pub const EVENT: &str = "called_back";

/// Whether notices for this complaint go to the call-back list (no email address was given).
pub fn by_phone(row: &ComplaintRow) -> bool {
    row.email.trim().is_empty()
}

/// Puts a rendered notice on the list, once per `dedupe_key` (as the outbox does for emails;
/// the complaint is locked by the operation that causes the notice, and the key is unique).
pub fn queue(
    conn: &mut DbConnection,
    ctx: &Ctx,
    row: &ComplaintRow,
    notice: &str,
    language: Language,
    rendered: &crate::mail::templates::Rendered,
    dedupe_key: &str,
) -> ComplaintResult<()> {
    let queued: i64 = callbacks::table.filter(callbacks::dedupe_key.eq(dedupe_key)).count().get_result(conn)?;
    if queued > 0 {
        return Ok(());
    }
    diesel::insert_into(callbacks::table)
        .values((
            callbacks::id.eq(new_id()),
            callbacks::complaint_id.eq(row.id.as_str()),
            callbacks::notice.eq(notice),
            callbacks::language.eq(language.as_str()),
            callbacks::subject.eq(&rendered.subject),
            callbacks::message.eq(&rendered.text),
            callbacks::dedupe_key.eq(dedupe_key),
            callbacks::created_at.eq(to_db_time(ctx.now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A line of the list: whom to call, at which number, and what to tell them.
#[derive(Queryable, Debug, Clone)]
pub struct Open {
    pub id: String,
    pub notice: String,
    pub language: String,
    pub subject: String,
    pub message: String,
    pub created_at: NaiveDateTime,
    pub tracking_number: String,
    pub caller: String,
    pub phone: String,
}

/// The calls still to make, oldest first.
pub fn open(conn: &mut DbConnection) -> QueryResult<Vec<Open>> {
    callbacks::table
        .inner_join(complaints::table.on(complaints::id.eq(callbacks::complaint_id)))
        .filter(callbacks::done_at.is_null())
        .order((callbacks::created_at.asc(), callbacks::id.asc()))
        .select((
            callbacks::id,
            callbacks::notice,
            callbacks::language,
            callbacks::subject,
            callbacks::message,
            callbacks::created_at,
            complaints::tracking_number,
            complaints::complainant_name,
            complaints::phone,
        ))
        .load(conn)
}

/// Marks a call made, by `acting`, and records it in the complaint's trail. A line already
/// done, or unknown, is [`ComplaintError::NotFound`].
pub fn done(conn: &mut DbConnection, ctx: &Ctx, id: &str, acting: &Acting) -> ComplaintResult<()> {
    conn.transaction(|conn| {
        let (complaint_id, notice): (String, String) = callbacks::table
            .find(id)
            .filter(callbacks::done_at.is_null())
            .select((callbacks::complaint_id, callbacks::notice))
            .first(conn)
            .optional()?
            .ok_or(ComplaintError::NotFound)?;
        let complaint_id = ComplaintId::new(complaint_id);
        if !store::lock(conn, &complaint_id)? {
            return Err(ComplaintError::NotFound);
        }
        let marked = diesel::update(callbacks::table.find(id).filter(callbacks::done_at.is_null()))
            .set((callbacks::done_at.eq(to_db_time(ctx.now)), callbacks::done_by.eq(acting.user_id.as_deref())))
            .execute(conn)?;
        if marked == 0 {
            return Err(ComplaintError::NotFound);
        }
        let status = store::find(conn, &complaint_id)?.ok_or(ComplaintError::NotFound)?.status;
        events::append(
            conn,
            NewEvent {
                complaint_id: &complaint_id,
                at: ctx.now,
                actor: acting.actor,
                actor_id: acting.user_id.as_deref(),
                action: EVENT,
                from: Some(status),
                to: status,
                detail: json!({"notice": notice}),
                investor_visible: true,
            },
        )?;
        Ok(())
    })
}
