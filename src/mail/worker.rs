//! The delivery worker: claims due outbox rows, sends them, records the outcome. `serve` runs it
//! on an interval; `anshang mail deliver --once` runs one pass. Tests call `deliver_once`.

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use serde::Serialize;

use super::outbox::{self, NoticeGuard};
use super::transport::Mailer;
use crate::db::DbConnection;
use crate::fields::mask_email;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Failed this time, will be tried again later.
    pub retrying: usize,
    /// Failed for the last allowed time: an admin must look.
    pub failed: usize,
    /// Not sent: the facts they spoke of changed after they were queued.
    pub cancelled: usize,
}

/// One pass: up to `batch` due messages. Each message with a guard is checked against the facts
/// of the moment right before it is sent; one whose facts changed is cancelled instead.
#[allow(clippy::too_many_arguments)]
pub fn deliver_once(
    conn: &mut DbConnection,
    mailer: &Mailer,
    from: &Mailbox,
    guard: &dyn NoticeGuard,
    max_attempts: u32,
    now: DateTime<Utc>,
    batch: i64,
) -> diesel::QueryResult<DeliveryReport> {
    let owner = crate::db::new_id();
    let mut report = DeliveryReport::default();
    let rows = outbox::claim(conn, &owner, now, batch)?;
    // Ballot codes are made only now, so no table ever pairs an address with a code; and all of
    // the batch's together, so no commit pairs one code with the next address marked sent.
    let mut ballot_codes: std::collections::HashMap<
        String,
        Result<crate::ballots::service::EmailedCode, crate::ballots::error::BallotError>,
    > = std::collections::HashMap::new();
    if !matches!(mailer, Mailer::Files(_)) {
        let messages: Vec<(String, String)> =
            rows.iter().filter_map(|r| r.payload.clone().map(|p| (r.id.clone(), p))).collect();
        if !messages.is_empty() {
            ballot_codes = crate::ballots::service::credentials_for_emails(conn, &messages)?.into_iter().collect();
        }
    }
    for mut row in rows {
        let made = ballot_codes.remove(&row.id);
        // Still ours? A slow batch could outlive its lease; another worker may have taken the row.
        if !outbox::renew_lease(conn, &row.id, &owner, crate::db::now().max(now))? {
            if let Some(Ok(code)) = &made {
                crate::ballots::service::withdraw_unsent_credential(conn, &code.hash)?;
            }
            continue;
        }
        if row.clock_id.is_some() {
            if let Some(reason) = guard.stale_reason(conn, &row, now)? {
                if outbox::cancel(conn, &row.id, &reason, now)? {
                    tracing::info!(notice = %row.notice, to = %mask_email(&row.recipient), %reason, "email cancelled before sending");
                    report.cancelled += 1;
                }
                continue;
            }
        }
        let mut minted: Option<String> = None;
        if row.payload.is_some() && matches!(mailer, Mailer::Files(_)) {
            // An .eml file would keep the address and the code side by side on disk.
            outbox::mark_failed_attempt(
                conn,
                &row,
                &owner,
                "emailed ballot codes need an SMTP relay (mail.smtp_url); use paper codes without one",
                now,
                1,
            )?;
            report.failed += 1;
            continue;
        }
        if let Some(made) = made {
            let code = match made {
                Ok(code) => {
                    minted = Some(code.hash);
                    code.code
                }
                Err(e) => {
                    tracing::error!(notice = %row.notice, error = %e, "could not make a ballot code");
                    outbox::mark_failed_attempt(conn, &row, &owner, "could not make a ballot code", now, max_attempts)?;
                    report.retrying += 1;
                    continue;
                }
            };
            let fill =
                |body: &Option<String>| body.as_ref().map(|b| b.replace(crate::ballots::service::CODE_TOKEN, &code));
            row.text_body = fill(&row.text_body);
            row.html_body = fill(&row.html_body);
        }
        match mailer.send(&row, from) {
            Ok(()) => {
                outbox::mark_sent(conn, &row.id, &owner, crate::db::now().max(now))?;
                tracing::info!(notice = %row.notice, to = %mask_email(&row.recipient), "email sent");
                report.sent += 1;
            }
            Err(error) => {
                let error = error.to_string();
                if let Some(hash) = &minted {
                    // The voter never got this code: withdraw it, the retry makes a new one.
                    crate::ballots::service::withdraw_unsent_credential(conn, hash)?;
                }
                let permanent = outbox::mark_failed_attempt(conn, &row, &owner, &error, now, max_attempts)?;
                if permanent {
                    tracing::error!(notice = %row.notice, to = %mask_email(&row.recipient), %error, "email failed for good");
                    report.failed += 1;
                } else {
                    tracing::warn!(notice = %row.notice, to = %mask_email(&row.recipient), %error, "email failed; will retry");
                    report.retrying += 1;
                }
            }
        }
    }
    Ok(report)
}

/// One delivery pass as of `now` (default: the current instant), with the service's mailer and
/// the complaint clock as the notice guard.
pub async fn deliver(
    state: &actix_web::web::Data<crate::state::AppState>,
    now: Option<DateTime<Utc>>,
) -> Result<DeliveryReport, crate::error::ApiError> {
    let s = state.clone();
    crate::db::run(&state.pool, move |conn| {
        let now = now.unwrap_or_else(crate::db::now);
        deliver_once(
            conn,
            &s.mailer,
            &s.mail_from,
            &crate::complaints::notices::ClockFacts,
            s.settings.mail.max_attempts,
            now,
            100,
        )
    })
    .await
}

/// Every `mail.deliver_interval_secs`, a delivery pass; a failed pass is logged and tried again.
pub fn spawn(state: actix_web::web::Data<crate::state::AppState>) {
    actix_web::rt::spawn(async move {
        let mut tick =
            actix_web::rt::time::interval(std::time::Duration::from_secs(state.settings.mail.deliver_interval_secs));
        loop {
            tick.tick().await;
            let started = std::time::Instant::now();
            let delivered = deliver(&state, None).await;
            state.metrics.delivery.finished(started.elapsed(), delivered.is_ok());
            match delivered {
                Ok(r) => state.metrics.record_delivery_outcomes(r.sent, r.retrying, r.failed, r.cancelled),
                Err(e) => tracing::warn!(error = %e, "email delivery pass failed; will try again"),
            }
        }
    });
}
