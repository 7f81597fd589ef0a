//! The emails complaint changes cause, queued in the changing transaction: the investor's
//! notices (in their language) and the ladder's department-side notices.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::context::Ctx;
pub use super::context::Notices;
use super::model::{Language, StopReason};
use super::store::{ClockRow, ComplaintRow};
use crate::calendar::shanghai;
use crate::complaints::error::{ComplaintError, ComplaintResult};
use crate::db::{from_db_time, DbConnection};
use crate::departments::store as departments;
use crate::escalation::ladder::{Recipient, Rung};
use crate::ids::ComplaintId;
use crate::mail::outbox::{self, Guard, NewMail, NoticeGuard, OutboxRow};

fn local_date(t: chrono::NaiveDateTime) -> String {
    from_db_time(t).with_timezone(&shanghai()).date_naive().to_string()
}

/// An instant as investors and staff read it: local date and time, "24:00" for the end of a day.
pub fn local_time_text(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&shanghai());
    if local.time() == chrono::NaiveTime::MIN {
        let day = local.date_naive().pred_opt().unwrap_or(local.date_naive());
        format!("{day} 24:00")
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// The name an investor email greets: the one given on the form when it reads as a name. Anyone
/// can file with someone else's address, so a "name" that carries a link, an address or a long
/// message is not repeated into an official email; the greeting is generic then.
fn greeting_name(name: &str, lang: Language) -> String {
    let name = name.trim();
    let lower = name.to_lowercase();
    let plain = !name.is_empty()
        && name.chars().count() <= 60
        && !["://", "www.", "http", "@", ".com", ".cn", ".net"].iter().any(|s| lower.contains(s))
        && !name.chars().any(|c| c.is_control() || c == '<' || c == '>');
    match (plain, lang) {
        (true, _) => name.to_string(),
        (false, Language::Zh) => "投资者".into(),
        (false, Language::ZhHant) => "投資者".into(),
        (false, Language::En) => "Investor".into(),
    }
}

fn base_vars(ctx: &Ctx, row: &ComplaintRow, clock: &ClockRow) -> Value {
    let lang = Language::parse(&row.language).unwrap_or(Language::Zh);
    let left = ctx.cal.working_days_between(crate::calendar::local_date(ctx.now), clock.due_date);
    json!({
        "investor_name": greeting_name(&row.complainant_name, lang),
        "working_days_left": left.max(0),
        "working_days_overdue": (-left).max(0),
        "tracking_number": row.tracking_number,
        "subject": row.subject,
        "company": row.company,
        "received_date": local_date(row.received_at),
        "due_date": clock.due_date.to_string(),
        "due_at": local_time_text(from_db_time(clock.due_at)),
        "working_days": clock.working_days + clock.extension_days,
        "tracking_link": format!("{}/track?number={}&lang={}", ctx.rules.notices.public_base_url, row.tracking_number, lang.as_str()),
        "link": format!("{}/staff/complaints/{}", ctx.rules.notices.public_base_url, row.id),
        "contest_window_working_days": ctx.rules.contest_window_working_days,
    })
}

/// Every notice `to_investor` sends. An investor reads zh, zh-Hant or en, so each of these has
/// all three (the shipped templates are checked against this list).
pub const INVESTOR_NOTICES: &[&str] = &[
    "receipt",
    "info_requested",
    "reply_available",
    "contest_received",
    "rated_dissatisfied",
    "closed",
    "extension_approved",
    "withdrawn",
    "due_date_moved",
    "access_code_reset",
];

/// Queues an investor notice (receipt, info_requested, reply_available, contest_received,
/// closed) in the complaint's language. `event_key` makes the row unique (one per change).
pub fn to_investor(
    conn: &mut DbConnection,
    ctx: &Ctx,
    row: &ComplaintRow,
    clock: &ClockRow,
    notice: &str,
    event_key: &str,
    extra: Value,
) -> ComplaintResult<()> {
    let dedupe_key = format!("investor:{}:{notice}:{event_key}", row.id);
    if super::callbacks::by_phone(row) {
        // A caller without an email address is told by phone: the operators' call-back list.
        let (rendered, lang) = render_for_investor(ctx, row, clock, notice, extra)?;
        return super::callbacks::queue(conn, ctx, row, notice, lang, &rendered, &dedupe_key);
    }
    if !admit_to_investor(conn, ctx, row, notice)? {
        return Ok(());
    }
    let (rendered, lang) = render_for_investor(ctx, row, clock, notice, extra)?;
    let mail = Queued { notice, language: lang, rendered: &rendered, send_after: ctx.now, guard: None };
    queue(conn, ctx, row, &mail, &row.email, dedupe_key)
}

/// The receipt of a complaint filed in this transaction: [`to_investor`] less the search for
/// an equal queued mail (nothing about a new complaint can be queued yet). The address's budget
/// is asked by the caller first ([`admit_to_investor`]), so that a filing can count it before
/// it takes its tracking number.
pub fn receipt_of_new_complaint(
    conn: &mut DbConnection,
    ctx: &Ctx,
    row: &ComplaintRow,
    clock: &ClockRow,
    event_key: &str,
) -> ComplaintResult<()> {
    outbox::insert_rows(conn, &[receipt_row(ctx, row, clock, event_key)?])?;
    Ok(())
}

/// The receipt of a complaint filed in this transaction as its outbox row, for a caller that
/// writes several at once (`outbox::insert_rows`).
pub fn receipt_row(ctx: &Ctx, row: &ComplaintRow, clock: &ClockRow, event_key: &str) -> ComplaintResult<OutboxRow> {
    let (rendered, lang) = render_for_investor(ctx, row, clock, RECEIPT, json!({}))?;
    let mail = Queued { notice: RECEIPT, language: lang, rendered: &rendered, send_after: ctx.now, guard: None };
    Ok(outbox::new_row(
        new_mail(row, &mail, &row.email, format!("investor:{}:{RECEIPT}:{event_key}", row.id)),
        ctx.now,
        &ctx.rules.notices.domain,
    ))
}

/// The notice of a filing.
pub const RECEIPT: &str = "receipt";

/// Whether the investor's address may get `notice` now (its daily budget; the decision is
/// logged either way).
pub fn admit_to_investor(
    conn: &mut DbConnection,
    ctx: &Ctx,
    row: &ComplaintRow,
    notice: &str,
) -> ComplaintResult<bool> {
    Ok(admit_to_investors(conn, ctx, &[row], notice)?[0])
}

/// [`admit_to_investor`] for several complaints at once (the receipts of a group of filings),
/// in their order, with the answers one call after another would give
/// (`mail::budget::admit_all`).
pub fn admit_to_investors(
    conn: &mut DbConnection,
    ctx: &Ctx,
    rows: &[&ComplaintRow],
    notice: &str,
) -> ComplaintResult<Vec<bool>> {
    let candidates: Vec<crate::mail::budget::Candidate<'_>> = rows
        .iter()
        .map(|row| crate::mail::budget::Candidate {
            // A phone-only caller has no address to email (the operator reads the receipt out).
            recipient: (!super::callbacks::by_phone(row)).then_some(row.email.as_str()),
            complaint_id: row.id.as_str(),
            notice,
            channel: row.channel.as_str(),
            status: row.status.as_str(),
        })
        .collect();
    Ok(crate::mail::budget::admit_all(
        conn,
        ctx.now,
        ctx.rules.notices.investor_emails_per_address_per_day,
        &candidates,
    )?)
}

/// An investor notice rendered for `row` in its language, as it would be queued now (also the
/// reply's preview on the staff pages).
pub fn render_for_investor(
    ctx: &Ctx,
    row: &ComplaintRow,
    clock: &ClockRow,
    notice: &str,
    extra: Value,
) -> ComplaintResult<(crate::mail::templates::Rendered, Language)> {
    let lang = Language::parse(&row.language).unwrap_or(Language::Zh);
    let mut vars = base_vars(ctx, row, clock);
    merge(&mut vars, extra);
    let rendered = ctx
        .rules
        .notices
        .templates
        .render(notice, lang, &vars)
        .map_err(|e| ComplaintError::internal("email template", e))?;
    Ok((rendered, lang))
}

/// One notice about a complaint, rendered once, for one or more recipients.
struct Queued<'a> {
    notice: &'a str,
    language: Language,
    rendered: &'a crate::mail::templates::Rendered,
    send_after: DateTime<Utc>,
    guard: Option<Guard>,
}

/// Queues `mail` for `recipient` in the outbox, unless `dedupe_key` is queued already.
fn queue(
    conn: &mut DbConnection,
    ctx: &Ctx,
    row: &ComplaintRow,
    mail: &Queued<'_>,
    recipient: &str,
    dedupe_key: String,
) -> ComplaintResult<()> {
    outbox::enqueue(conn, new_mail(row, mail, recipient, dedupe_key), ctx.now, &ctx.rules.notices.domain)?;
    Ok(())
}

fn new_mail<'a>(row: &'a ComplaintRow, mail: &Queued<'a>, recipient: &'a str, dedupe_key: String) -> NewMail<'a> {
    NewMail {
        dedupe_key,
        complaint_id: Some(row.id.as_str()),
        notice: mail.notice,
        language: mail.language,
        recipient,
        rendered: mail.rendered.clone(),
        send_after: mail.send_after,
        payload: None,
        guard: mail.guard.clone(),
    }
}

fn merge(vars: &mut Value, extra: Value) {
    if let (Some(v), Value::Object(e)) = (vars.as_object_mut(), extra) {
        v.extend(e);
    }
}

/// The addresses a rung names. A complaint no department holds is the coordination office's
/// to chase, so department recipients fall back to it. Unknown offices are reported back.
pub fn resolve_recipients(
    conn: &mut DbConnection,
    row: &ComplaintRow,
    rung: &Rung,
) -> ComplaintResult<(Vec<String>, Vec<String>)> {
    let department = match &row.department_id {
        Some(id) => departments::find(conn, id)?,
        None => None,
    };
    let mut found = Vec::new();
    let mut unresolved = Vec::new();
    for r in &rung.recipients {
        let address = match (r, &department) {
            (Recipient::DepartmentContact, Some(d)) => Some(d.contact_email.clone()),
            (Recipient::DepartmentHead, Some(d)) => Some(d.head_email.clone()),
            (Recipient::DepartmentContact | Recipient::DepartmentHead, None) => {
                office_address(conn, "coordination-office")?
            }
            (Recipient::Office(code), _) => office_address(conn, code)?,
        };
        match address {
            Some(a) if !found.contains(&a) => found.push(a),
            Some(_) => {}
            None => unresolved.push(match r {
                Recipient::Office(code) => format!("office:{code}"),
                other => format!("{other:?}"),
            }),
        }
    }
    Ok((found, unresolved))
}

/// The contact address of the active office with this code.
pub fn office_address(conn: &mut DbConnection, code: &str) -> ComplaintResult<Option<String>> {
    Ok(departments::find_by_code(conn, code)?.filter(|d| d.active).map(|d| d.contact_email))
}

/// A department's name in the staff language, or "not yet assigned".
pub fn department_name(
    conn: &mut DbConnection,
    ctx: &Ctx,
    id: Option<&crate::ids::DepartmentId>,
) -> ComplaintResult<String> {
    let lang = ctx.rules.notices.staff_language;
    let found = match id {
        Some(id) => departments::find(conn, id)?.map(|d| if lang.is_chinese() { d.name_zh } else { d.name_en }),
        None => None,
    };
    Ok(found.unwrap_or_else(|| if lang.is_chinese() { "（尚未分派）".into() } else { "(not yet assigned)".into() }))
}

/// Queues a staff notice (a case returned, an extension to decide, an answer received, a
/// contest, a case moved away) in the staff language to each address. These state what has
/// just happened, so they carry no guard.
pub fn to_staff(
    conn: &mut DbConnection,
    ctx: &Ctx,
    row: &ComplaintRow,
    clock: &ClockRow,
    notice: &str,
    addresses: &[String],
    extra: Value,
) -> ComplaintResult<()> {
    let lang = ctx.rules.notices.staff_language;
    let held_by = department_name(conn, ctx, row.department_id.as_ref())?;
    let mut vars = base_vars(ctx, row, clock);
    merge(&mut vars, json!({"department_name": held_by, "held_by": held_by}));
    merge(&mut vars, extra);
    let rendered = ctx
        .rules
        .notices
        .templates
        .render(notice, lang, &vars)
        .map_err(|e| ComplaintError::internal("email template", e))?;
    let event = crate::db::new_id();
    let mail = Queued { notice, language: lang, rendered: &rendered, send_after: ctx.now, guard: None };
    for address in addresses {
        queue(conn, ctx, row, &mail, address, format!("staff:{}:{notice}:{event}:{address}", row.id))?;
    }
    Ok(())
}

/// Queues one rung's department-side emails; `instance` distinguishes repeated rungs (e.g.
/// `assigned` once per assignment). Returns the recipients (masked) and the unresolved ones.
#[allow(clippy::too_many_arguments)]
pub fn rung_emails(
    conn: &mut DbConnection,
    ctx: &Ctx,
    row: &ComplaintRow,
    clock: &ClockRow,
    rung: &Rung,
    instance: &str,
    fell_due: DateTime<Utc>,
    extra: Value,
) -> ComplaintResult<Value> {
    let (recipients, unresolved) = resolve_recipients(conn, row, rung)?;
    let lang = ctx.rules.notices.staff_language;
    let held_by = department_name(conn, ctx, row.department_id.as_ref())?;
    let mut vars = base_vars(ctx, row, clock);
    merge(&mut vars, json!({"department_name": held_by, "held_by": held_by}));
    merge(&mut vars, extra);
    let rendered = ctx
        .rules
        .notices
        .templates
        .render(&rung.step, lang, &vars)
        .map_err(|e| ComplaintError::internal("email template", e))?;
    let send_after = ctx.rules.notices.ladder.send_time(rung, fell_due, ctx.cal);
    // What the emails assert, re-checked before they are sent (`ClockFacts`).
    let guard = Guard {
        clock_id: clock.id.clone(),
        due_at: clock.due_at,
        department_id: row.department_id.clone().map(String::from),
    };
    let mail = Queued { notice: &rung.step, language: lang, rendered: &rendered, send_after, guard: Some(guard) };
    for address in &recipients {
        queue(conn, ctx, row, &mail, address, format!("{}:{}:{}:{instance}:{address}", row.id, clock.id, rung.step))?;
    }
    Ok(json!({
        "step": rung.step,
        "recipients": recipients.iter().map(|a| crate::fields::mask_email(a)).collect::<Vec<_>>(),
        "unresolved": unresolved,
        "send_after": send_after.with_timezone(&shanghai()).to_rfc3339(),
    }))
}

/// The facts a ladder notice speaks of, checked against the database of the moment: the clock
/// still runs (not stopped by a reply, refusal or withdrawal; not paused for the investor), its
/// due instant is the one the notice states, and the complaint is still with the department the
/// notice was addressed to. One rule for every guarded notice, used by the delivery worker
/// right before sending and by every complaint change (`cancel_stale`).
pub struct ClockFacts;

impl NoticeGuard for ClockFacts {
    fn stale_reason(
        &self,
        conn: &mut DbConnection,
        row: &OutboxRow,
        now: DateTime<Utc>,
    ) -> diesel::QueryResult<Option<String>> {
        stale_reason(conn, row, now)
    }
}

fn stale_reason(conn: &mut DbConnection, row: &OutboxRow, now: DateTime<Utc>) -> diesel::QueryResult<Option<String>> {
    use diesel::prelude::*;
    let Some(clock_id) = &row.clock_id else { return Ok(None) };
    let Some(clock) = super::store::find_clock(conn, clock_id)? else {
        return Ok(Some("the clock it spoke of no longer exists".into()));
    };
    if clock.stopped_at.is_some() {
        let why = clock.stop_reason.map_or("stopped", StopReason::as_str);
        return Ok(Some(format!("the clock stopped before it was sent ({why})")));
    }
    let pauses = super::store::pauses_of(conn, &clock.id)?;
    if pauses.iter().any(|p| from_db_time(p.paused_at) <= now && p.resumed_at.is_none_or(|r| from_db_time(r) > now)) {
        return Ok(Some("the clock is paused: the department asked the investor for more information".into()));
    }
    if row.clock_due_at != Some(clock.due_at) {
        let shown =
            |t: chrono::NaiveDateTime| from_db_time(t).with_timezone(&shanghai()).format("%Y-%m-%d %H:%M").to_string();
        let was = row.clock_due_at.map(shown).unwrap_or_else(|| "-".into());
        return Ok(Some(format!("the due time moved from {was} to {} Beijing time", shown(clock.due_at))));
    }
    let holder: Option<Option<String>> = crate::db::schema::complaints::table
        .find(&clock.complaint_id)
        .select(crate::db::schema::complaints::department_id)
        .first(conn)
        .optional()?;
    if holder.flatten() != row.department_id {
        return Ok(Some("the complaint is no longer with the department the notice was addressed to".into()));
    }
    Ok(None)
}

/// Cancels the complaint's queued ladder notices whose facts no longer hold. Called in the
/// transaction of every complaint change, so a cancelled notice is visible at once and a crash
/// cannot separate the change from the cancellation. Returns how many were cancelled.
pub fn cancel_stale(
    conn: &mut DbConnection,
    complaint_id: &ComplaintId,
    now: DateTime<Utc>,
) -> diesel::QueryResult<usize> {
    let mut cancelled = 0;
    for row in outbox::pending_guarded(conn, complaint_id.as_str())? {
        if let Some(reason) = stale_reason(conn, &row, now)? {
            if outbox::cancel(conn, &row.id, &reason, now)? {
                cancelled += 1;
            }
        }
    }
    Ok(cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_greeting_repeats_a_name_but_not_a_message() {
        assert_eq!(greeting_name("Anna Müller", Language::En), "Anna Müller");
        assert_eq!(greeting_name("王芳", Language::Zh), "王芳");
        assert_eq!(greeting_name("Your account is locked: sign in at http://evil.example", Language::En), "Investor");
        assert_eq!(greeting_name("support@bank.example", Language::Zh), "投资者");
        assert_eq!(greeting_name(&"A".repeat(61), Language::En), "Investor");
    }
}
