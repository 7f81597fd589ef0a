//! A lost access code. The investor gives the tracking number and the email address given at
//! filing; when both belong to one complaint, a link that sets a new code goes to that address
//! (never another), within the address's daily email budget. Following the link and confirming
//! rotates the code — the old one, and every tracking session opened with it, stop working — and
//! shows the new code once. The request's answer is the same whether or not anything matched,
//! so it tells nobody whether a number exists or which address it was filed with.
//!
//! The link carries a random secret (256 bits); only its SHA-256 is stored
//! (`access_code_resets`), it works once, for [`LINK_HOURS`], and redeeming one retires the
//! complaint's other links. Nothing changes until the investor confirms on the page the link
//! opens, so a mail scanner that fetches links, or someone who knows the number and the address,
//! cannot change the code behind the investor's back.

use chrono::Duration;
use diesel::prelude::*;
use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::context::{Acting, Ctx, REPLY_CLOCK};
use super::error::{ComplaintError, ComplaintResult};
use super::events::{self, NewEvent};
use super::model::{AccessCode, TrackingNumber};
use super::store;
use crate::db::schema::{access_code_resets, complaints};
use crate::db::{to_db_time, DbConnection};

/// The investor notice that carries the link.
pub const NOTICE: &str = "access_code_reset";

/// How long a link works.
pub const LINK_HOURS: i64 = 24;

/// The trail's name for a redeemed link.
pub const EVENT: &str = "access_code_reset";

/// Asks for a link to `email` for the complaint numbered `number`. Queues it only when the
/// address is the one given at filing (compared without regard to case or surrounding blanks)
/// and the address's budget allows; otherwise does nothing. Either way returns `Ok(())`.
pub fn request(conn: &mut DbConnection, ctx: &Ctx, number: &str, email: &str) -> ComplaintResult<()> {
    let Some(number) = TrackingNumber::parse(number) else { return Ok(()) };
    conn.transaction(|conn| {
        let Some(row) = store::find_by_tracking_number(conn, &number.to_string())? else { return Ok(()) };
        if !row.email.trim().eq_ignore_ascii_case(email.trim()) {
            return Ok(());
        }
        let clock = store::current_clock(conn, &row.id, REPLY_CLOCK)?
            .ok_or_else(|| ComplaintError::internal("code reset", "no reply clock"))?;
        let secret = new_secret();
        let token_hash = hash_secret(&secret);
        diesel::insert_into(access_code_resets::table)
            .values((
                access_code_resets::token_hash.eq(&token_hash),
                access_code_resets::complaint_id.eq(row.id.as_str()),
                access_code_resets::created_at.eq(to_db_time(ctx.now)),
                access_code_resets::expires_at.eq(to_db_time(ctx.now + Duration::hours(LINK_HOURS))),
            ))
            .execute(conn)?;
        let lang = row.language.as_str();
        let reset_link = format!("{}/track/reset?token={secret}&lang={lang}", ctx.rules.notices.public_base_url);
        // The budget is asked inside: over it, the link is stored but never sent.
        super::notices::to_investor(
            conn,
            ctx,
            &row,
            &clock,
            NOTICE,
            &token_hash,
            json!({"reset_link": reset_link, "link_hours": LINK_HOURS}),
        )
    })
}

/// What a redeemed link gives: the complaint's number and its new code (shown once).
pub struct Redeemed {
    pub tracking_number: String,
    pub code: AccessCode,
}

/// Whether `secret` is a link that still works (unknown, used and expired links alike: no).
pub fn is_usable(conn: &mut DbConnection, ctx: &Ctx, secret: &str) -> ComplaintResult<bool> {
    Ok(usable(conn, ctx, secret)?.is_some())
}

/// Sets a new access code through the link `secret`: the link and the complaint's other links
/// are spent, the code replaced, the change recorded in the trail. An unknown, used or expired
/// link is [`ComplaintError::NotFound`].
pub fn redeem(conn: &mut DbConnection, ctx: &Ctx, secret: &str) -> ComplaintResult<Redeemed> {
    conn.transaction(|conn| {
        let complaint_id = usable(conn, ctx, secret)?.ok_or(ComplaintError::NotFound)?;
        let id = crate::ids::ComplaintId::new(complaint_id);
        if !store::lock(conn, &id)? {
            return Err(ComplaintError::NotFound);
        }
        // Spent under the lock: of two confirmations of one link, the second finds it used.
        let spent = diesel::update(
            access_code_resets::table.find(hash_secret(secret)).filter(access_code_resets::used_at.is_null()),
        )
        .set(access_code_resets::used_at.eq(to_db_time(ctx.now)))
        .execute(conn)?;
        if spent == 0 {
            return Err(ComplaintError::NotFound);
        }
        // The complaint's other links retire with it: one new code per request.
        diesel::update(
            access_code_resets::table
                .filter(access_code_resets::complaint_id.eq(id.as_str()))
                .filter(access_code_resets::used_at.is_null()),
        )
        .set(access_code_resets::used_at.eq(to_db_time(ctx.now)))
        .execute(conn)?;
        let code = AccessCode::generate();
        diesel::update(complaints::table.find(&id))
            .set((complaints::access_code_hash.eq(code.hash()), complaints::updated_at.eq(to_db_time(ctx.now))))
            .execute(conn)?;
        let row = store::find(conn, &id)?.ok_or(ComplaintError::NotFound)?;
        let acting = Acting::investor();
        events::append(
            conn,
            NewEvent {
                complaint_id: &id,
                at: ctx.now,
                actor: acting.actor,
                actor_id: None,
                action: EVENT,
                from: Some(row.status),
                to: row.status,
                detail: json!({}),
                investor_visible: true,
            },
        )?;
        Ok(Redeemed { tracking_number: row.tracking_number, code })
    })
}

/// The complaint of a link that is known, unused and not expired.
fn usable(conn: &mut DbConnection, ctx: &Ctx, secret: &str) -> ComplaintResult<Option<String>> {
    if secret.is_empty() || secret.len() > 128 {
        return Ok(None);
    }
    Ok(access_code_resets::table
        .find(hash_secret(secret))
        .filter(access_code_resets::used_at.is_null())
        .filter(access_code_resets::expires_at.gt(to_db_time(ctx.now)))
        .select(access_code_resets::complaint_id)
        .first::<String>(conn)
        .optional()?)
}

/// 32 random bytes from the operating system, hex-encoded for a URL.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_link_counts_against_the_address_budget_whoever_filed() {
        // Anyone who knows a number and its address can ask: the budget must know this notice.
        assert!(crate::mail::budget::anonymous_can_cause(super::NOTICE, "hotline", "replied"));
    }
}
