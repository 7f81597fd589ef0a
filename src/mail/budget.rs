//! The per-address budget of investor emails. Anyone can file a complaint with any address and
//! withdraw it again, so the emails an anonymous client can cause — the receipt of a public
//! filing and the confirmation of a withdrawal — stop once an address has had
//! [`PER_ADDRESS_PER_DAY`] investor emails in the last [`WINDOW_HOURS`] hours. The filing or the
//! withdrawal still happens (and the page still shows the tracking number and access code);
//! only the email is withheld, and the administrators see it with its reason
//! (`GET /api/v1/admin/mail/withheld`).
//!
//! The count is kept in the database (`investor_mail_log`), so it holds across complaints and
//! across instances. Addresses are counted by a normalised key: case folded, and a `+tag` in
//! the local part dropped (most providers deliver `victim+1@…` to `victim@…`). Emails staff
//! actions cause (a reply, a request for information, a decision) always go, and count.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::investor_mail_log;
use crate::db::{new_id, to_db_time, DbConnection};

/// Investor emails one address may receive in a window before anonymous-caused ones stop: the
/// default of `mail.investor_emails_per_address_per_day`.
pub const PER_ADDRESS_PER_DAY: i64 = 5;
pub const WINDOW_HOURS: i64 = 24;

/// The key an address is counted under.
pub fn address_key(address: &str) -> String {
    let lower = address.trim().to_lowercase();
    match lower.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split('+').next().unwrap_or(local);
            format!("{local}@{domain}")
        }
        None => lower,
    }
}

/// Whether this notice is one an anonymous client can cause: the receipt of a public filing, the
/// confirmation of a withdrawal, a link for a lost access code.
pub fn anonymous_can_cause(notice: &str, channel: &str, status: &str) -> bool {
    (notice == "receipt" && channel == "web")
        || notice == "withdrawn"
        || (notice == "closed" && status == "withdrawn")
        // complaints::code_reset::NOTICE (named here as text: mail sits below complaints).
        || notice == "access_code_reset"
}

/// The rule: an email within budget goes; one over it goes only if no anonymous client could
/// have caused it.
pub fn allowed(sent_in_window: i64, anonymous_can_cause: bool, per_day: i64) -> bool {
    !anonymous_can_cause || sent_in_window < per_day
}

#[derive(Insertable)]
#[diesel(table_name = investor_mail_log)]
struct NewEntry<'a> {
    id: String,
    address_key: &'a str,
    complaint_id: &'a str,
    notice: &'a str,
    withheld: bool,
    reason: Option<String>,
    created_at: chrono::NaiveDateTime,
}

/// The emails sent to each of these addresses since an instant, as (address, count) (the index
/// `investor_mail_log_address_sent` serves it: only the addresses' own rows are read).
macro_rules! sent_since {
    ($keys:expr, $since:expr) => {
        investor_mail_log::table
            .filter(investor_mail_log::address_key.eq_any($keys))
            .filter(investor_mail_log::withheld.eq(false))
            .filter(investor_mail_log::created_at.gt($since))
            .group_by(investor_mail_log::address_key)
            .select((investor_mail_log::address_key, diesel::dsl::count_star()))
    };
}

/// One email to count ([`admit_all`]).
pub struct Candidate<'a> {
    /// `None`: there is no address to email (the answer is not to send).
    pub recipient: Option<&'a str>,
    pub complaint_id: &'a str,
    pub notice: &'a str,
    pub channel: &'a str,
    pub status: &'a str,
}

/// Counts each email against its address and says whether to queue it (in the transaction that
/// queues it), in their order, with the answers one call per email would give: their entries
/// written in one statement, then their addresses counted in one, each email counting the ones
/// before it that were not withheld. A withheld email is recorded with its reason.
///
/// The entries are written before the addresses' others are counted, so that a transaction that
/// begins here (a filing) writes first: a SQLite transaction that read first cannot take the
/// write lock once another writer has committed meanwhile (it fails instead of waiting).
pub fn admit_all(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    per_day: i64,
    candidates: &[Candidate<'_>],
) -> diesel::QueryResult<Vec<bool>> {
    // An empty address is nobody's to protect: sent (the outbox reports it).
    let keys: Vec<Option<String>> =
        candidates.iter().map(|c| c.recipient.filter(|r| !r.trim().is_empty()).map(address_key)).collect();
    let entries: Vec<(usize, NewEntry<'_>)> = candidates
        .iter()
        .zip(&keys)
        .enumerate()
        .filter_map(|(i, (c, key))| {
            let key = key.as_deref()?;
            let entry = NewEntry {
                id: new_id(),
                address_key: key,
                complaint_id: c.complaint_id,
                notice: c.notice,
                withheld: false,
                reason: None,
                created_at: to_db_time(now),
            };
            Some((i, entry))
        })
        .collect();
    let mut answers: Vec<bool> = candidates.iter().map(|c| c.recipient.is_some()).collect();
    if entries.is_empty() {
        return Ok(answers);
    }
    let rows: Vec<&NewEntry<'_>> = entries.iter().map(|(_, e)| e).collect();
    crate::db::on_backend!(conn, c => diesel::insert_into(investor_mail_log::table).values(rows).execute(c))?;
    let mut addresses: Vec<&str> = entries.iter().map(|(_, e)| e.address_key).collect();
    addresses.sort_unstable();
    addresses.dedup();
    let since = to_db_time(now - Duration::hours(WINDOW_HOURS));
    let counted: Vec<(String, i64)> = sent_since!(&addresses, since).load(conn)?;
    // Sent before these entries: the count less the entries just written.
    let mut sent: std::collections::HashMap<&str, i64> = counted.iter().map(|(key, n)| (key.as_str(), *n)).collect();
    for (_, e) in &entries {
        *sent.entry(e.address_key).or_default() -= 1;
    }
    for (i, e) in &entries {
        let c = &candidates[*i];
        let before = sent.get(e.address_key).copied().unwrap_or(0);
        if allowed(before, anonymous_can_cause(c.notice, c.channel, c.status), per_day) {
            *sent.entry(e.address_key).or_default() += 1;
            continue;
        }
        answers[*i] = false;
        let reason =
            format!("{before} investor emails to this address in the last {WINDOW_HOURS} hours (budget {per_day})");
        diesel::update(investor_mail_log::table.find(&e.id))
            .set((investor_mail_log::withheld.eq(true), investor_mail_log::reason.eq(Some(reason))))
            .execute(conn)?;
        let recipient = c.recipient.unwrap_or_default();
        tracing::warn!(complaint = %c.complaint_id, notice = c.notice, recipient = %crate::fields::mask_email(recipient), "investor email withheld: address over its daily budget");
    }
    Ok(answers)
}

/// An email the budget withheld, as administrators see it (the address masked).
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct WithheldView {
    pub at: DateTime<chrono::FixedOffset>,
    pub complaint_id: String,
    pub notice: String,
    /// Masked: `v***@example.com`.
    pub recipient: String,
    pub reason: String,
}

/// The most recent withheld emails, newest first.
pub fn withheld(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<WithheldView>> {
    let rows: Vec<(String, String, String, Option<String>, chrono::NaiveDateTime)> = investor_mail_log::table
        .filter(investor_mail_log::withheld.eq(true))
        .order(investor_mail_log::created_at.desc())
        .limit(limit)
        .select((
            investor_mail_log::complaint_id,
            investor_mail_log::notice,
            investor_mail_log::address_key,
            investor_mail_log::reason,
            investor_mail_log::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(complaint_id, notice, key, reason, at)| WithheldView {
            at: crate::db::from_db_time(at).with_timezone(&crate::calendar::shanghai()),
            complaint_id,
            notice,
            recipient: crate::fields::mask_email(&key),
            reason: reason.unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    /// Each filing counts its address's emails of the last day: that must read the address's
    /// own rows, not every email of the day (SQLite once chose the `withheld` index).
    #[test]
    fn the_daily_count_reads_only_the_addresss_own_rows() {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap();
        let url = crate::db::DatabaseUrl::Sqlite(dir.path().join("t.db"));
        let pool = crate::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
        let mut conn = pool.get().unwrap();
        crate::db::run_migrations(&mut conn).unwrap();
        conn.batch_execute("ANALYZE").unwrap();
        let since = to_db_time(Utc::now());
        let query = sent_since!(["someone@example.com"], since);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&query).to_string();
        let sql = sql.split(" -- binds").next().unwrap();
        let plan: Vec<PlanStep> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}")).load(&mut conn).unwrap();
        let plan: Vec<String> = plan.into_iter().map(|p| p.detail).collect();
        assert!(
            plan.iter().any(|step| step.contains("investor_mail_log_address_sent (address_key=? AND withheld=?")),
            "{plan:?}"
        );
    }

    fn migrated() -> (tempfile::TempDir, crate::db::Pool) {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::db::DatabaseUrl::Sqlite(dir.path().join("t.db"));
        let pool = crate::db::connect_pool(&url, 1, std::time::Duration::from_secs(5)).unwrap();
        crate::db::run_migrations(&mut pool.get().unwrap()).unwrap();
        (dir, pool)
    }

    /// A group of filings counts its receipts at once: the answers and the log must be those of
    /// one call per email (each counting the earlier ones that were not withheld).
    #[test]
    fn emails_admitted_together_get_the_answers_of_one_call_per_email() {
        let now = Utc::now();
        // Receipts of public filings to one address (tags and case do not make it another),
        // one a staff action causes (always goes, and counts), another address, a phone caller.
        let to = |recipient: Option<&'static str>, notice: &'static str, channel: &'static str| Candidate {
            recipient,
            complaint_id: "c",
            notice,
            channel,
            status: "received",
        };
        let mut candidates = Vec::new();
        for i in 0..4 {
            candidates.push(to(Some(if i % 2 == 0 { "v@example.com" } else { "V+x@Example.com" }), "receipt", "web"));
        }
        candidates.push(to(Some("v@example.com"), "replied", "web"));
        candidates.push(to(Some("v@example.com"), "receipt", "web"));
        candidates.push(to(Some("w@example.com"), "receipt", "web"));
        candidates.push(to(None, "receipt", "hotline"));
        candidates.push(to(Some("v@example.com"), "receipt", "web"));
        let per_day = 4;

        let (_one_dir, one_by_one) = migrated();
        let mut conn = one_by_one.get().unwrap();
        let alone: Vec<bool> = candidates
            .iter()
            .map(|c| admit_all(&mut conn, now, per_day, std::slice::from_ref(c)).unwrap()[0])
            .collect();
        drop(conn);
        let (_together_dir, together) = migrated();
        let answers = admit_all(&mut together.get().unwrap(), now, per_day, &candidates).unwrap();
        assert_eq!(answers, alone);
        assert_eq!(answers, [true, true, true, true, true, false, true, false, false]);
        let withheld_in = |pool: &crate::db::Pool| withheld(&mut pool.get().unwrap(), 20).unwrap().len();
        assert_eq!((withheld_in(&together), withheld_in(&one_by_one)), (2, 2));
    }

    #[test]
    fn addresses_are_counted_case_folded_without_tags() {
        assert_eq!(address_key(" Victim+phish1@Example.COM "), "victim@example.com");
        assert_eq!(address_key("victim@example.com"), "victim@example.com");
    }

    #[test]
    fn only_what_an_anonymous_client_can_cause_stops() {
        assert!(anonymous_can_cause("receipt", "web", "received"));
        assert!(!anonymous_can_cause("receipt", "hotline", "received"));
        assert!(anonymous_can_cause("closed", "web", "withdrawn"));
        assert!(!anonymous_can_cause("closed", "web", "rejected"));
        assert!(!anonymous_can_cause("reply_available", "web", "replied"));
        assert!(anonymous_can_cause("withdrawn", "hotline", "withdrawn"));
        assert!(anonymous_can_cause("access_code_reset", "hotline", "replied"));
        assert!(allowed(PER_ADDRESS_PER_DAY - 1, true, PER_ADDRESS_PER_DAY));
        assert!(!allowed(PER_ADDRESS_PER_DAY, true, PER_ADDRESS_PER_DAY));
        assert!(allowed(PER_ADDRESS_PER_DAY + 10, false, PER_ADDRESS_PER_DAY));
    }
}
