//! The emails complaint changes cause, queued in the changing transaction: the investor's
//! notices (in their language) and the ladder's department-side notices.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::model::Language;
use super::service::Ctx;
use super::store::{ClockRow, ComplaintRow};
use crate::calendar::shanghai;
use crate::config::Settings;
use crate::db::{from_db_time, DbConnection};
use crate::departments::store as departments;
use crate::error::ApiError;
use crate::escalation::ladder::{Ladder, Recipient, Rung};
use crate::mail::outbox::{self, NewMail};
use crate::mail::templates::Templates;

/// Everything needed to write notices: templates, the ladder, and how links are made.
pub struct Notices {
    pub templates: Templates,
    pub ladder: Ladder,
    pub staff_language: Language,
    pub public_base_url: String,
    /// Right-hand side of Message-IDs.
    pub domain: String,
}

impl Notices {
    pub fn from_settings(s: &Settings) -> Result<Arc<Notices>, String> {
        let templates = Templates::load(&s.mail.template_dir).map_err(|e| e.to_string())?;
        let ladder = Ladder::from_settings(&s.escalation)?;
        let from: lettre::message::Mailbox = s.mail.from.parse().map_err(|_| "mail.from is not an address".to_string())?;
        Ok(Arc::new(Notices {
            templates,
            ladder,
            staff_language: s.mail.staff_language,
            public_base_url: s.server.public_base_url.trim_end_matches('/').to_string(),
            domain: from.email.domain().to_string(),
        }))
    }
}

fn local_date(t: chrono::NaiveDateTime) -> String {
    from_db_time(t).with_timezone(&shanghai()).date_naive().to_string()
}

/// "2026-12-04 24:00" for an end-of-day cutoff, else the local date and time.
fn due_at_text(clock: &ClockRow) -> String {
    let local = from_db_time(clock.due_at).with_timezone(&shanghai());
    if local.time() == chrono::NaiveTime::MIN && local.date_naive() == clock.due_date.succ_opt().unwrap_or(clock.due_date) {
        format!("{} 24:00", clock.due_date)
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

fn base_vars(ctx: &Ctx, row: &ComplaintRow, clock: &ClockRow) -> Value {
    json!({
        "tracking_number": row.tracking_number,
        "subject": row.subject,
        "company": row.company,
        "received_date": local_date(row.received_at),
        "due_date": clock.due_date.to_string(),
        "due_at": due_at_text(clock),
        "working_days": clock.working_days + clock.extension_days,
        "tracking_link": format!("{}/track?number={}", ctx.notices.public_base_url, row.tracking_number),
        "link": format!("{}/staff/complaints/{}", ctx.notices.public_base_url, row.id),
        "contest_window_working_days": ctx.contest_window_working_days,
    })
}

/// Queues an investor notice (receipt, info_requested, reply_available, contest_received,
/// closed) in the complaint's language. `event_key` makes the row unique (one per change).
pub fn to_investor(conn: &mut DbConnection, ctx: &Ctx, row: &ComplaintRow, clock: &ClockRow, notice: &str, event_key: &str, extra: Value) -> Result<(), ApiError> {
    if !crate::mail::budget::admit(conn, ctx.now, &row.email, &row.id, notice, &row.channel, &row.status)? {
        return Ok(());
    }
    let lang = Language::parse(&row.language).unwrap_or(Language::Zh);
    let mut vars = base_vars(ctx, row, clock);
    merge(&mut vars, extra);
    let rendered = ctx.notices.templates.render(notice, lang, &vars).map_err(|e| ApiError::internal("email template", e))?;
    outbox::enqueue(
        conn,
        NewMail {
            dedupe_key: format!("investor:{}:{notice}:{event_key}", row.id),
            complaint_id: Some(&row.id),
            notice,
            language: lang,
            recipient: &row.email,
            rendered,
            send_after: ctx.now,
            payload: None,
        },
        ctx.now,
        &ctx.notices.domain,
    )?;
    Ok(())
}

fn merge(vars: &mut Value, extra: Value) {
    if let (Some(v), Value::Object(e)) = (vars.as_object_mut(), extra) {
        v.extend(e);
    }
}

/// The addresses a rung names. A complaint no department holds is the coordination office's
/// to chase, so department recipients fall back to it. Unknown offices are reported back.
pub fn resolve_recipients(conn: &mut DbConnection, row: &ComplaintRow, rung: &Rung) -> Result<(Vec<String>, Vec<String>), ApiError> {
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
            (Recipient::DepartmentContact | Recipient::DepartmentHead, None) => office(conn, "coordination-office")?,
            (Recipient::Office(code), _) => office(conn, code)?,
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

fn office(conn: &mut DbConnection, code: &str) -> Result<Option<String>, ApiError> {
    Ok(departments::find_by_code(conn, code)?.filter(|d| d.active).map(|d| d.contact_email))
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
) -> Result<Value, ApiError> {
    let (recipients, unresolved) = resolve_recipients(conn, row, rung)?;
    let lang = ctx.notices.staff_language;
    let held_by = match &row.department_id {
        Some(id) => departments::find(conn, id)?.map(|d| if lang == Language::Zh { d.name_zh } else { d.name_en }),
        None => None,
    }
    .unwrap_or_else(|| if lang == Language::Zh { "（尚未分派）".into() } else { "(not yet assigned)".into() });
    let mut vars = base_vars(ctx, row, clock);
    merge(&mut vars, json!({"department_name": held_by, "held_by": held_by}));
    merge(&mut vars, extra);
    let rendered = ctx.notices.templates.render(&rung.step, lang, &vars).map_err(|e| ApiError::internal("email template", e))?;
    let send_after = ctx.notices.ladder.send_time(rung, fell_due, ctx.cal);
    for address in &recipients {
        outbox::enqueue(
            conn,
            NewMail {
                dedupe_key: format!("{}:{}:{}:{instance}:{address}", row.id, clock.id, rung.step),
                complaint_id: Some(&row.id),
                notice: &rung.step,
                language: lang,
                recipient: address,
                rendered: rendered.clone(),
                send_after,
                payload: None,
            },
            ctx.now,
            &ctx.notices.domain,
        )?;
    }
    Ok(json!({
        "step": rung.step,
        "recipients": recipients.iter().map(|a| crate::fields::mask_email(a)).collect::<Vec<_>>(),
        "unresolved": unresolved,
        "send_after": send_after.with_timezone(&shanghai()).to_rfc3339(),
    }))
}
