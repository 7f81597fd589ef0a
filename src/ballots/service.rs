//! Ballot rounds: creation, the roll, sealed codes, casting, closing (which rewrites the ballot
//! rows in random order), results and the bulletin. Every vote-bearing write is designed so
//! that no row, order or transaction links a ballot to a code or a voter.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::bulletin::Bulletin;
use super::codes;
use super::error::{BallotError, BallotResult};
use super::model::{default_questions, Answer, Answers, Category, Points, Question, RoundStatus};
use super::tally::{BallotRow, DepartmentTally};
use crate::complaints::model::Language;
use crate::db::schema::{
    ballot_credentials, ballot_receipts, ballot_round_departments, ballot_rounds, ballot_voters, ballots,
    sealed_ballots,
};
use crate::db::{from_db_time, new_id, to_db_time, DbConnection};
use crate::error::FieldError;
use crate::fields::{required_text, Checker};
use crate::ids::RoundId;

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = ballot_rounds)]
pub struct RoundRow {
    pub id: RoundId,
    pub title: String,
    pub year: i32,
    pub status: String,
    pub opens_at: NaiveDateTime,
    pub closes_at: NaiveDateTime,
    pub min_group_size: i32,
    pub questions: String,
    pub points: String,
    pub quotas: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub trustees: i32,
    pub threshold: i32,
    /// The public key that seals ballots at cast, from open until the trustees open them.
    pub seal_recipient: Option<String>,
    /// The public half of the round's revocation key (see `revocation`), from creation until
    /// the round closes. Rounds created before revocation keys existed have none.
    pub revocation_recipient: Option<String>,
}

/// A round as the API shows it.
#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct RoundView {
    pub id: String,
    pub title: String,
    pub year: i32,
    pub status: RoundStatus,
    pub opens_at: DateTime<chrono::FixedOffset>,
    pub closes_at: DateTime<chrono::FixedOffset>,
    pub min_group_size: i32,
    pub questions: Vec<Question>,
    pub points: Points,
    #[schema(value_type = Object)]
    pub quotas: BTreeMap<Category, u32>,
    pub departments: Vec<RoundDepartment>,
    /// Trustees holding a share of the round key, and how many of them open the ballots.
    pub trustees: i32,
    pub threshold: i32,
    /// Ballots are sealed (from open until the trustees open them after close).
    pub sealed: bool,
    /// Lost codes can be replaced (the round has a revocation key; until it closes).
    pub replaces_lost_codes: bool,
    /// Only in the answer that creates the round, this once (`no-store`): the private half of
    /// the round's revocation key, which finds a voter's lost code to replace it. Never stored;
    /// keep it with the round's papers until the round closes, apart from the trustees' shares.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_key: Option<String>,
}

#[derive(Serialize, Deserialize, utoipa::ToSchema, Debug, Clone)]
pub struct RoundDepartment {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
}

impl RoundDepartment {
    /// The department's name as a reader of `language` sees it: Chinese names are kept in
    /// simplified script only, so a traditional-Chinese reader gets that one.
    pub fn name_in(&self, language: Language) -> &str {
        if language.is_chinese() {
            &self.name_zh
        } else {
            &self.name_en
        }
    }
}

impl RoundRow {
    pub fn status(&self) -> RoundStatus {
        RoundStatus::parse(&self.status).unwrap_or(RoundStatus::Draft)
    }
    pub fn questions(&self) -> Vec<Question> {
        serde_json::from_str(&self.questions).unwrap_or_default()
    }
    pub fn points(&self) -> Points {
        serde_json::from_str(&self.points).unwrap_or_default()
    }
    pub fn quotas(&self) -> BTreeMap<Category, u32> {
        serde_json::from_str(&self.quotas).unwrap_or_default()
    }
}

pub fn view(conn: &mut DbConnection, r: &RoundRow) -> BallotResult<RoundView> {
    let local = |t| from_db_time(t).with_timezone(&crate::calendar::shanghai());
    Ok(RoundView {
        id: r.id.to_string(),
        title: r.title.clone(),
        year: r.year,
        status: r.status(),
        opens_at: local(r.opens_at),
        closes_at: local(r.closes_at),
        min_group_size: r.min_group_size,
        questions: r.questions(),
        points: r.points(),
        quotas: r.quotas(),
        departments: round_departments(conn, &r.id)?,
        trustees: r.trustees,
        threshold: r.threshold,
        sealed: r.seal_recipient.is_some(),
        replaces_lost_codes: r.revocation_recipient.is_some(),
        revocation_key: None,
    })
}

pub fn round_departments(conn: &mut DbConnection, round_id: &RoundId) -> BallotResult<Vec<RoundDepartment>> {
    let ids: Vec<String> = ballot_round_departments::table
        .filter(ballot_round_departments::round_id.eq(round_id))
        .order(ballot_round_departments::department_id.asc())
        .select(ballot_round_departments::department_id)
        .load(conn)?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(d) = crate::departments::store::find(conn, &crate::ids::DepartmentId::new(id))? {
            out.push(RoundDepartment { id: d.id.into(), name_zh: d.name_zh, name_en: d.name_en });
        }
    }
    Ok(out)
}

pub fn find(conn: &mut DbConnection, id: &RoundId) -> BallotResult<RoundRow> {
    ballot_rounds::table.find(id).select(RoundRow::as_select()).first(conn).optional()?.ok_or(BallotError::NoSuchRound)
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<RoundRow>> {
    ballot_rounds::table.order(ballot_rounds::created_at.desc()).select(RoundRow::as_select()).load(conn)
}

// ---------------------------------------------------------------------------------------------
// Creating a round

#[derive(Deserialize, utoipa::ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct CreateRound {
    /// At most 200 characters.
    #[schema(max_length = 200, pattern = r"\S")]
    pub title: String,
    #[schema(minimum = 2017, maximum = 2100)]
    pub year: i32,
    /// Departments under evaluation (ids), 1–100.
    #[schema(min_items = 1, max_items = 100)]
    pub department_ids: Vec<String>,
    /// Default: overall conduct, efficiency, attitude, integrity. 1–20 questions with distinct keys.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 20)]
    pub questions: Option<Vec<Question>>,
    /// In the years 1900–9999.
    pub opens_at: DateTime<chrono::FixedOffset>,
    /// After `opens_at`, in the years 1900–9999.
    pub closes_at: DateTime<chrono::FixedOffset>,
    /// Smallest group whose results are shown (k, 3–50, default 5).
    #[serde(default)]
    #[schema(minimum = 3, maximum = 50)]
    pub min_group_size: Option<u32>,
    /// Points per answer (default 100 / 70 / 30).
    #[serde(default)]
    pub points: Option<Points>,
    /// Most voters per category on the roll, if limited.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub quotas: Option<BTreeMap<Category, u32>>,
    /// Trustees who each get one share of the round key when it opens (1–9, default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 9)]
    pub trustees: Option<u32>,
    /// How many of their shares open the ballots at close (1–trustees; default: a majority).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 9)]
    pub threshold: Option<u32>,
}

/// A round just created, with the private half of its revocation key: shown this once to the
/// officer (it finds a lost code to replace it) and never stored.
pub struct Created {
    pub round: RoundRow,
    pub revocation_key: String,
}

/// A new round's settings, checked: what `create` stores.
pub struct CheckedRound {
    title: String,
    depts: BTreeSet<String>,
    questions: Vec<Question>,
    k: u32,
    trustees: u32,
    threshold: u32,
    points: Points,
}

/// A question's text in one language: 1–200 characters, on one line.
pub fn question_text_ok(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty() && text.chars().count() <= 200 && !text.chars().any(char::is_control)
}

/// Checks a new round's settings, every mistake at once (the departments' existence is checked
/// when the round is stored). The commission's page also runs it on a form with unreadable
/// fields, to name every other mistake in the same answer.
pub fn check_create(req: &CreateRound) -> Result<CheckedRound, Vec<FieldError>> {
    let mut c = Checker::default();
    let title = c.check(required_text("title", &req.title, 200));
    if !(2017..=2100).contains(&req.year) {
        c.push(FieldError::new("year", "out_of_range", "2017–2100"));
    }
    let depts: BTreeSet<String> = req.department_ids.iter().map(|d| d.trim().to_string()).collect();
    if depts.is_empty() || depts.len() > 100 {
        c.push(FieldError::new("department_ids", "count", "1 to 100 departments"));
    }
    let questions = req.questions.clone().unwrap_or_else(default_questions);
    let keys: BTreeSet<&str> = questions.iter().map(|q| q.key.as_str()).collect();
    if questions.is_empty()
        || questions.len() > 20
        || keys.len() != questions.len()
        || questions.iter().any(|q| {
            q.key.is_empty() || q.key.len() > 40 || !question_text_ok(&q.text_zh) || !question_text_ok(&q.text_en)
        })
    {
        c.push(FieldError::new(
            "questions",
            "invalid",
            "1–20 questions with distinct keys and texts of 1–200 characters in both languages",
        ));
    }
    let k = req.min_group_size.unwrap_or(5);
    if !(3..=50).contains(&k) {
        c.push(FieldError::new("min_group_size", "out_of_range", "between 3 and 50"));
    }
    for (field, at) in [("opens_at", req.opens_at), ("closes_at", req.closes_at)] {
        if !crate::fields::STORABLE_YEARS.contains(&chrono::Datelike::year(&at.with_timezone(&Utc))) {
            c.push(FieldError::new(field, "out_of_range", "an instant between the years 1900 and 9999"));
        }
    }
    if req.closes_at <= req.opens_at {
        c.push(FieldError::new("closes_at", "before_open", "a round closes after it opens"));
    }
    let trustees = req.trustees.unwrap_or(1);
    let threshold = req.threshold.unwrap_or(trustees / 2 + 1);
    if !(1..=9).contains(&trustees) {
        c.push(FieldError::new("trustees", "out_of_range", "1 to 9 trustees"));
    } else if !(1..=trustees).contains(&threshold) {
        c.push(FieldError::new("threshold", "out_of_range", "between 1 and the number of trustees"));
    }
    let points = req.points.unwrap_or_default();
    if [points.satisfied, points.basically_satisfied, points.dissatisfied]
        .iter()
        .any(|p| !p.is_finite() || *p < 0.0 || *p > 1000.0)
    {
        c.push(FieldError::new("points", "out_of_range", "0–1000 points per answer"));
    }
    match c.finish() {
        Ok(()) => Ok(CheckedRound { title: title.expect("checked"), depts, questions, k, trustees, threshold, points }),
        Err(crate::error::InvalidFields(errors)) => Err(errors),
    }
}

pub fn create(conn: &mut DbConnection, req: CreateRound, actor: &str, now: DateTime<Utc>) -> BallotResult<Created> {
    let CheckedRound { title, depts, questions, k, trustees, threshold, points } =
        check_create(&req).map_err(BallotError::Invalid)?;
    let id = RoundId::generate();
    let (revocation_recipient, revocation_key) = super::revocation::new_key();
    conn.transaction(|conn| {
        crate::db::write_lock(conn)?;
        for d in &depts {
            crate::departments::store::find(conn, &crate::ids::DepartmentId::new(d.as_str()))?
                .ok_or_else(|| BallotError::invalid("department_ids", "unknown", format!("no department {d}")))?;
        }
        diesel::insert_into(ballot_rounds::table)
            .values(RoundRow {
                id: id.clone(),
                title: title.clone(),
                year: req.year,
                status: RoundStatus::Draft.as_str().into(),
                opens_at: to_db_time(req.opens_at.with_timezone(&Utc)),
                closes_at: to_db_time(req.closes_at.with_timezone(&Utc)),
                min_group_size: k as i32,
                questions: serde_json::to_string(&questions).expect("json"),
                points: serde_json::to_string(&points).expect("json"),
                quotas: serde_json::to_string(&req.quotas.unwrap_or_default()).expect("json"),
                created_at: to_db_time(now),
                updated_at: to_db_time(now),
                trustees: trustees as i32,
                threshold: threshold as i32,
                seal_recipient: None,
                revocation_recipient: Some(revocation_recipient.clone()),
            })
            .execute(conn)?;
        for d in &depts {
            diesel::insert_into(ballot_round_departments::table)
                .values((ballot_round_departments::round_id.eq(&id), ballot_round_departments::department_id.eq(d)))
                .execute(conn)?;
        }
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "ballot_round.create",
            &format!("ballot_round:{id}"),
            json!({"departments": depts.len()}),
        )?;
        Ok(Created { round: find(conn, &id)?, revocation_key: revocation_key.clone() })
    })
}

/// A round moved along, and — when it has just opened — the shares of its key, one per
/// trustee. They are given out this once: the service keeps only the public key.
pub struct Advanced {
    pub round: RoundRow,
    pub key_shares: Option<Vec<String>>,
}

/// Moves a round along draft → open → closed → published. Opening makes the round key and
/// returns its shares; closing rewrites the stored rows in random order in one transaction;
/// publishing needs the ballots opened by the trustees ([`unseal`]).
pub fn advance(
    conn: &mut DbConnection,
    round_id: &RoundId,
    to: RoundStatus,
    actor: &str,
    now: DateTime<Utc>,
) -> BallotResult<Advanced> {
    advance_as(conn, round_id, to, Some(actor), now)
}

/// Closes every open round whose closing time has come (`closes_at <= now`), exactly as an
/// officer's close would: the periodic worker of `serve` and `anshang sweep` call it. Returns the
/// ids of the rounds this call closed. A round another instance closed first is skipped; a
/// round that fails to close is reported and left open for the next pass.
pub fn close_due_rounds(conn: &mut DbConnection, now: DateTime<Utc>) -> BallotResult<Vec<String>> {
    let due: Vec<RoundId> = ballot_rounds::table
        .filter(ballot_rounds::status.eq(RoundStatus::Open.as_str()))
        .filter(ballot_rounds::closes_at.le(to_db_time(now)))
        .order(ballot_rounds::closes_at.asc())
        .select(ballot_rounds::id)
        .load(conn)?;
    let mut closed = Vec::new();
    let mut failed = None;
    for id in due {
        match advance_as(conn, &id, RoundStatus::Closed, None, now).map(|a| a.round) {
            Ok(_) => closed.push(id.into_string()),
            // Closed meanwhile (by an officer or another instance).
            Err(BallotError::IllegalTransition { .. }) => {}
            Err(e) => {
                tracing::warn!(round = %id, error = %e, "closing a due ballot round failed; will try again");
                failed = Some(e);
            }
        }
    }
    match (closed.is_empty(), failed) {
        (true, Some(e)) => Err(e),
        _ => Ok(closed),
    }
}

fn advance_as(
    conn: &mut DbConnection,
    round_id: &RoundId,
    to: RoundStatus,
    actor: Option<&str>,
    now: DateTime<Utc>,
) -> BallotResult<Advanced> {
    let result = conn.transaction(|conn| {
        // Written first: takes the write lock before anything is read.
        diesel::update(ballot_rounds::table.find(round_id))
            .set(ballot_rounds::updated_at.eq(to_db_time(now)))
            .execute(conn)?;
        let round = find(conn, round_id)?;
        let from = round.status();
        let allowed = matches!(
            (from, to),
            (RoundStatus::Draft, RoundStatus::Open)
                | (RoundStatus::Open, RoundStatus::Closed)
                | (RoundStatus::Closed, RoundStatus::Published)
        );
        if !allowed {
            return Err(BallotError::IllegalTransition { from, to });
        }
        if to == RoundStatus::Published && round.seal_recipient.is_some() {
            return Err(BallotError::StillSealed);
        }
        let rewrite = if to == RoundStatus::Closed {
            // No code is replaced any more: the roll tags go with the rewrite, the key here.
            diesel::update(ballot_rounds::table.find(round_id))
                .set(ballot_rounds::revocation_recipient.eq(None::<String>))
                .execute(conn)?;
            shuffle_rewrite(conn, round_id)?;
            rewrite_transaction(conn)?
        } else {
            None
        };
        let key_shares = if to == RoundStatus::Open {
            let (recipient, shares) = super::seal::new_round_key(round.trustees as u8, round.threshold as u8);
            diesel::update(ballot_rounds::table.find(round_id))
                .set(ballot_rounds::seal_recipient.eq(Some(recipient)))
                .execute(conn)?;
            Some(shares)
        } else {
            None
        };
        diesel::update(ballot_rounds::table.find(round_id)).set(ballot_rounds::status.eq(to.as_str())).execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            actor,
            &format!("ballot_round.{}", to.as_str()),
            &format!("ballot_round:{round_id}"),
            json!({"from": from.as_str(), "at_closing_time": actor.is_none()}),
        )?;
        Ok((Advanced { round: find(conn, round_id)?, key_shares }, rewrite))
    });
    let (result, rewrite) = result?;
    if to == RoundStatus::Closed {
        scrub_storage(conn, rewrite.as_deref())?;
    }
    Ok(result)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    /// At least `threshold` of the trustees' key shares, as given when the round opened.
    pub key_shares: Vec<String>,
}

/// The trustees open a closed round's ballots: their shares rebuild the round key in memory,
/// every sealed ballot is opened, and — in one transaction — the ballots are written in random
/// order, one row per department (categories of cells below k merged), the sealed ballots are
/// deleted and the round's public key is forgotten. The key is dropped; storage is scrubbed as at
/// close. Wrong or too few shares change nothing.
pub fn unseal(
    conn: &mut DbConnection,
    round_id: &RoundId,
    shares: &[String],
    actor: &str,
    now: DateTime<Utc>,
) -> BallotResult<RoundRow> {
    let round = find(conn, round_id)?;
    let Some(recipient) = round.seal_recipient.clone() else {
        return Err(BallotError::NotSealed);
    };
    if round.status() != RoundStatus::Closed {
        return Err(BallotError::OpenBeforeClose);
    }
    let key = super::seal::RoundKey::from_shares(shares, round.threshold as u8, &recipient).map_err(|e| match e {
        super::seal::SealError::Damaged(_) => BallotError::internal("sealed ballot", e),
        other => BallotError::invalid("key_shares", "key_shares", other.to_string()),
    })?;
    let sealed: Vec<Vec<u8>> = sealed_ballots::table
        .filter(sealed_ballots::round_id.eq(round_id))
        .select(sealed_ballots::sealed)
        .load(conn)?;
    let mut rows: Vec<(String, String, String, String, String)> = Vec::new();
    for s in &sealed {
        let ballot = key.open(s).map_err(|e| BallotError::internal("sealed ballot", e))?;
        for r in ballot.ratings {
            rows.push((
                codes::random_id(),
                round_id.to_string(),
                r.department_id,
                r.category,
                serde_json::to_string(&r.answers).expect("json"),
            ));
        }
    }
    drop(key);
    rows.shuffle(&mut rand::rngs::OsRng);
    let categories = merged_categories(&rows, round.min_group_size.max(1) as u32);
    let (row, rewrite) = conn.transaction(|conn| {
        diesel::update(ballot_rounds::table.find(round_id))
            .set(ballot_rounds::updated_at.eq(to_db_time(now)))
            .execute(conn)?;
        let again = find(conn, round_id)?;
        if again.seal_recipient.as_deref() != Some(recipient.as_str()) {
            return Err(BallotError::AlreadyOpened);
        }
        for ((id, r, d, _, a), c) in rows.iter().zip(&categories) {
            diesel::insert_into(ballots::table)
                .values((
                    ballots::id.eq(id),
                    ballots::round_id.eq(r),
                    ballots::department_id.eq(d),
                    ballots::category.eq(c),
                    ballots::answers.eq(a),
                ))
                .execute(conn)?;
        }
        diesel::delete(sealed_ballots::table.filter(sealed_ballots::round_id.eq(round_id))).execute(conn)?;
        diesel::update(ballot_rounds::table.find(round_id))
            .set(ballot_rounds::seal_recipient.eq(None::<String>))
            .execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "ballot_round.unseal",
            &format!("ballot_round:{round_id}"),
            json!({"ballots": sealed.len()}),
        )?;
        Ok::<_, BallotError>((find(conn, round_id)?, rewrite_transaction(conn)?))
    })?;
    scrub_storage(conn, rewrite.as_deref())?;
    Ok(row)
}

/// PostgreSQL: the id of the current transaction (the rewrite), to wait for every snapshot
/// older than it before `VACUUM FULL` (which keeps row versions such a snapshot could see).
fn rewrite_transaction(conn: &mut DbConnection) -> BallotResult<Option<String>> {
    #[derive(diesel::QueryableByName)]
    struct Xid {
        #[diesel(sql_type = diesel::sql_types::Text)]
        xid: String,
    }
    match conn {
        DbConnection::Pg(pg) => Ok(Some(
            diesel::sql_query("SELECT (pg_current_xact_id()::text::bigint % 4294967296)::text AS xid")
                .get_result::<Xid>(pg)?
                .xid,
        )),
        DbConnection::Sqlite(_) => Ok(None),
    }
}

/// After the rewrite at close, leaves no older version of a vote-bearing row in storage: the
/// rows as they were written during voting (a credential unspent, then spent; a ballot in cast
/// order) would otherwise survive in freed pages, in SQLite's write-ahead log, or as dead row
/// versions in PostgreSQL's table pages. Runs outside any transaction.
///
/// - SQLite: secure delete on (freed content is overwritten with zeros), `VACUUM` (the file
///   is rebuilt page by page), then a `TRUNCATE` checkpoint, which copies the log into the file
///   and empties the log file.
/// - PostgreSQL: once no transaction older than the rewrite is open in the database, `VACUUM
///   FULL` of the vote-bearing tables writes each into a new file holding only the live rows;
///   the old files are removed. The server's write-ahead log keeps its
///   history (see docs/ballot-anonymity.md).
fn scrub_storage(conn: &mut DbConnection, rewrite_xid: Option<&str>) -> BallotResult<()> {
    match conn {
        DbConnection::Sqlite(lite) => {
            diesel::sql_query("PRAGMA secure_delete = ON").execute(lite)?;
            diesel::sql_query("VACUUM").execute(lite)?;
            #[derive(diesel::QueryableByName)]
            struct Checkpoint {
                #[diesel(sql_type = diesel::sql_types::Integer)]
                busy: i32,
            }
            // A reader elsewhere can hold the log for a moment: try again briefly.
            for attempt in 0..50 {
                let c: Checkpoint = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result(lite)?;
                if c.busy == 0 {
                    return Ok(());
                }
                if attempt == 49 {
                    tracing::warn!("the write-ahead log could not be truncated after closing a ballot round; it will be on the next close or checkpoint");
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Ok(())
        }
        DbConnection::Pg(pg) => {
            // A transaction of this database that began before the rewrite committed (a request,
            // a worker, autovacuum's analyze) could still see the old versions, and VACUUM FULL
            // would copy them: wait for those to end (briefly; then rewrite regardless).
            if let Some(xid) = rewrite_xid {
                #[derive(diesel::QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                let older = "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
                             AND backend_xmin IS NOT NULL AND age(backend_xmin) >= age($1::xid)";
                for attempt in 0..200 {
                    if diesel::sql_query(older).bind::<diesel::sql_types::Text, _>(xid).get_result::<N>(pg)?.n == 0 {
                        break;
                    }
                    if attempt == 199 {
                        tracing::warn!("a transaction older than the ballot rewrite is still open; rewriting the ballot tables regardless");
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
            // The server's removal horizon also counts backends that are still connecting (no
            // database yet), which pg_stat_activity cannot attribute: a busy server can make one
            // rewrite keep a dead version. Such holders last milliseconds, so rewrite again after
            // a pause; each pass copies only what the horizon then still protects.
            for pass in 0..3 {
                if pass > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
                diesel::sql_query("VACUUM FULL ballots, sealed_ballots, ballot_receipts, ballot_credentials")
                    .execute(pg)?;
            }
            Ok(())
        }
    }
}

/// Deletes and re-inserts the round's ballot rows, receipts and credentials in a random order,
/// all in one transaction: afterwards neither physical order nor (on PostgreSQL) the writing
/// transaction's id says anything about who cast what, or when.
fn shuffle_rewrite(conn: &mut DbConnection, round_id: &RoundId) -> BallotResult<()> {
    let mut rng = rand::rngs::OsRng;
    let mut rows: Vec<(String, String, String, String, String)> = ballots::table
        .filter(ballots::round_id.eq(round_id))
        .select((ballots::id, ballots::round_id, ballots::department_id, ballots::category, ballots::answers))
        .load(conn)?;
    diesel::delete(ballots::table.filter(ballots::round_id.eq(round_id))).execute(conn)?;
    rows.shuffle(&mut rng);
    let k = find(conn, round_id)?.min_group_size.max(1) as u32;
    let categories = merged_categories(&rows, k);
    // Row by row: multi-row inserts are not available through the two-backend connection.
    for ((id, r, d, _, a), c) in rows.iter().zip(&categories) {
        diesel::insert_into(ballots::table)
            .values((
                ballots::id.eq(id),
                ballots::round_id.eq(r),
                ballots::department_id.eq(d),
                ballots::category.eq(c),
                ballots::answers.eq(a),
            ))
            .execute(conn)?;
    }
    let mut sealed: Vec<(String, Vec<u8>)> = sealed_ballots::table
        .filter(sealed_ballots::round_id.eq(round_id))
        .select((sealed_ballots::id, sealed_ballots::sealed))
        .load(conn)?;
    diesel::delete(sealed_ballots::table.filter(sealed_ballots::round_id.eq(round_id))).execute(conn)?;
    sealed.shuffle(&mut rng);
    for (id, b) in &sealed {
        diesel::insert_into(sealed_ballots::table)
            .values((sealed_ballots::id.eq(id), sealed_ballots::round_id.eq(round_id), sealed_ballots::sealed.eq(b)))
            .execute(conn)?;
    }
    let mut receipts: Vec<String> = ballot_receipts::table
        .filter(ballot_receipts::round_id.eq(round_id))
        .select(ballot_receipts::receipt)
        .load(conn)?;
    diesel::delete(ballot_receipts::table.filter(ballot_receipts::round_id.eq(round_id))).execute(conn)?;
    receipts.shuffle(&mut rng);
    for r in &receipts {
        diesel::insert_into(ballot_receipts::table)
            .values((ballot_receipts::receipt.eq(r), ballot_receipts::round_id.eq(round_id)))
            .execute(conn)?;
    }
    let mut creds: Vec<(String, String, String, bool)> = ballot_credentials::table
        .filter(ballot_credentials::round_id.eq(round_id))
        .select((
            ballot_credentials::code_hash,
            ballot_credentials::round_id,
            ballot_credentials::scope,
            ballot_credentials::used,
        ))
        .load(conn)?;
    diesel::delete(ballot_credentials::table.filter(ballot_credentials::round_id.eq(round_id))).execute(conn)?;
    creds.shuffle(&mut rng);
    for (h, r, sc, u) in &creds {
        diesel::insert_into(ballot_credentials::table)
            .values((
                ballot_credentials::code_hash.eq(h),
                ballot_credentials::round_id.eq(r),
                ballot_credentials::scope.eq(sc),
                ballot_credentials::used.eq(u),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The category a ballot row keeps after close: its own where the (department, category) cell
/// has at least `k` valid ballots, else none ("") — a smaller cell is merged into the
/// department's uncategorised ballots, so no row tells how a small group voted.
fn merged_categories(rows: &[(String, String, String, String, String)], k: u32) -> Vec<String> {
    let valid =
        |answers: &str| serde_json::from_str::<Answers>(answers).map(|a| super::tally::is_valid(&a)).unwrap_or(false);
    let mut cells: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for (_, _, d, c, a) in rows {
        if !c.is_empty() && valid(a) {
            *cells.entry((d.as_str(), c.as_str())).or_insert(0) += 1;
        }
    }
    rows.iter()
        .map(
            |(_, _, d, c, _)| {
                if cells.get(&(d.as_str(), c.as_str())).copied().unwrap_or(0) >= k {
                    c.clone()
                } else {
                    String::new()
                }
            },
        )
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The roll

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct RowError {
    /// 1-based line of the CSV (the header is line 1).
    pub line: usize,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct ImportReport {
    pub imported: usize,
    /// When any row is wrong nothing is imported; every wrong row is listed.
    pub errors: Vec<RowError>,
}

#[derive(Deserialize)]
struct RollLine {
    name: String,
    category: String,
    contact: String,
    departments: String,
    /// Optional column: the language the voter reads; empty or absent means zh.
    #[serde(default)]
    language: String,
}

struct ValidVoter {
    /// The CSV line it came from.
    line: usize,
    name: String,
    category: Category,
    contact: String,
    departments: Vec<String>,
    language: Language,
}

/// The roll's header: four columns, and optionally a fifth, `language`.
const ROLL_COLUMNS: [&str; 5] = ["name", "category", "contact", "departments", "language"];

/// Parses a roll: columns `name,category,contact,departments[,language]`; `contact` is an email
/// address or `paper`; `departments` lists the codes (or ids) of the round's departments the
/// voter dealt with, separated by `;`; `language` is `zh`, `zh-Hant` or `en` (zh when empty or
/// absent). Pure apart from the department lookup passed in.
fn parse_roll(csv_text: &str, department_of: &dyn Fn(&str) -> Option<String>) -> (Vec<ValidVoter>, Vec<RowError>) {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(csv_text.as_bytes());
    let mut voters = Vec::new();
    let mut errors = Vec::new();
    match reader.headers() {
        Ok(h) if h.iter().eq(ROLL_COLUMNS[..4].iter().copied()) || h.iter().eq(ROLL_COLUMNS) => {}
        _ => {
            errors.push(RowError {
                line: 1,
                message: "the header must be: name,category,contact,departments (and optionally ,language)".into(),
            });
            return (voters, errors);
        }
    }
    for (i, record) in reader.deserialize::<RollLine>().enumerate() {
        let line = i + 2;
        let row = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError { line, message: format!("unreadable row: {}", e.kind_message()) });
                continue;
            }
        };
        let mut problems = Vec::new();
        if row.name.is_empty() || row.name.chars().count() > 100 || row.name.chars().any(char::is_control) {
            problems.push("name: 1–100 characters".to_string());
        }
        let category = Category::parse(&row.category);
        if category.is_none() {
            problems.push("category: enterprise_served, enterprise_representative or conduct_monitor".into());
        }
        let contact = if row.contact.eq_ignore_ascii_case("paper") {
            "paper".to_string()
        } else {
            match crate::fields::EmailAddress::parse("contact", &row.contact) {
                Ok(e) => e.into_inner(),
                Err(_) => {
                    problems.push("contact: an email address or \"paper\"".into());
                    String::new()
                }
            }
        };
        // Any case: a spreadsheet may well have typed `ZH` or `zh-hant`.
        let language = match row.language.trim() {
            "" => Some(Language::Zh),
            given => Language::parse_any_case(given),
        };
        if language.is_none() {
            problems.push("language: zh, zh-Hant or en (or empty for zh)".into());
        }
        let mut departments = Vec::new();
        for code in row.departments.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            match department_of(code) {
                Some(id) if !departments.contains(&id) => departments.push(id),
                Some(_) => {}
                None => problems.push(format!("departments: {code} is not evaluated in this round")),
            }
        }
        if departments.is_empty() && problems.is_empty() {
            problems.push("departments: name at least one department the voter dealt with".into());
        }
        if problems.is_empty() {
            departments.sort();
            voters.push(ValidVoter {
                line,
                name: row.name,
                category: category.expect("checked"),
                contact,
                departments,
                language: language.expect("checked"),
            });
        } else {
            errors.push(RowError { line, message: problems.join("; ") });
        }
    }
    (voters, errors)
}

/// Who a roll entry is: the mailbox for emailed codes, name and category for paper letters.
fn voter_key(name: &str, category: &str, contact: &str) -> String {
    if contact == "paper" {
        format!("paper\0{}\0{category}", name.to_lowercase())
    } else {
        format!("email\0{}", contact.to_lowercase())
    }
}

trait KindMessage {
    fn kind_message(&self) -> String;
}
impl KindMessage for csv::Error {
    fn kind_message(&self) -> String {
        match self.kind() {
            csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                format!("{len} fields, expected {expected_len}")
            }
            csv::ErrorKind::Utf8 { .. } => "not UTF-8".into(),
            _ => "not a CSV row".into(),
        }
    }
}

pub fn import_roll(
    conn: &mut DbConnection,
    round_id: &RoundId,
    csv_text: &str,
    actor: &str,
    now: DateTime<Utc>,
) -> BallotResult<ImportReport> {
    conn.transaction(|conn| {
        diesel::update(ballot_rounds::table.find(round_id))
            .set(ballot_rounds::updated_at.eq(to_db_time(now)))
            .execute(conn)?;
        let round = find(conn, round_id)?;
        // A voter forgotten at first can be added while voting is open (then issue codes again:
        // only those without one get a code).
        if !matches!(round.status(), RoundStatus::Draft | RoundStatus::Open) {
            return Err(BallotError::RollClosed);
        }
        let depts = round_departments(conn, round_id)?;
        let mut by_code = BTreeMap::new();
        for d in &depts {
            if let Some(full) = crate::departments::store::find(conn, &crate::ids::DepartmentId::new(d.id.as_str()))? {
                by_code.insert(full.code.clone(), full.id.to_string());
                by_code.insert(full.id.to_string(), full.id.into_string());
            }
        }
        let (voters, mut errors) = parse_roll(csv_text, &|code| by_code.get(code).cloned());
        // One voter, one entry: an email address is on the roll once, a paper voter once by name
        // and category — a roll imported twice would otherwise give everyone two codes.
        let mut seen: BTreeSet<String> = ballot_voters::table
            .filter(ballot_voters::round_id.eq(round_id))
            .select((ballot_voters::name, ballot_voters::category, ballot_voters::contact))
            .load::<(String, String, String)>(conn)?
            .into_iter()
            .map(|(name, category, contact)| voter_key(&name, &category, &contact))
            .collect();
        for v in &voters {
            if !seen.insert(voter_key(&v.name, v.category.as_str(), &v.contact)) {
                errors.push(RowError {
                    line: v.line,
                    message:
                        "already on the roll of this round (same email address, or same name and category on paper)"
                            .into(),
                });
            }
        }
        let quotas = round.quotas();
        for (category, quota) in &quotas {
            let existing: i64 = ballot_voters::table
                .filter(ballot_voters::round_id.eq(round_id))
                .filter(ballot_voters::category.eq(category.as_str()))
                .count()
                .get_result(conn)?;
            let adding = voters.iter().filter(|v| v.category == *category).count() as i64;
            if existing + adding > i64::from(*quota) {
                errors.push(RowError {
                    line: 0,
                    message: format!("quota: at most {quota} voters of category {}", category.as_str()),
                });
            }
        }
        if !errors.is_empty() {
            return Ok(ImportReport { imported: 0, errors });
        }
        for v in &voters {
            diesel::insert_into(ballot_voters::table)
                .values((
                    ballot_voters::id.eq(new_id()),
                    ballot_voters::round_id.eq(round_id),
                    ballot_voters::name.eq(&v.name),
                    ballot_voters::category.eq(v.category.as_str()),
                    ballot_voters::contact.eq(&v.contact),
                    ballot_voters::departments.eq(serde_json::to_string(&v.departments).expect("json")),
                    ballot_voters::letter_issued.eq(false),
                    ballot_voters::language.eq(v.language.as_str()),
                ))
                .execute(conn)?;
        }
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "ballot_round.roll_import",
            &format!("ballot_round:{round_id}"),
            json!({"voters": voters.len()}),
        )?;
        Ok(ImportReport { imported: voters.len(), errors })
    })
}

// ---------------------------------------------------------------------------------------------
// Codes

/// One printed letter: handed to the officer once, never stored.
#[derive(Serialize, utoipa::ToSchema, Debug, Clone)]
pub struct Letter {
    pub name: String,
    pub code: String,
    pub departments: Vec<RoundDepartment>,
    /// The language the roll gives for this voter: the letter is printed in it.
    pub language: Language,
    /// Where to vote (the round's voting page).
    pub vote_link: String,
    /// When voting closes, in Beijing time (UTC+8): `YYYY-MM-DD HH:MM`.
    pub closes_at: String,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct Issued {
    /// Paper letters to print and seal. Shown once.
    pub letters: Vec<Letter>,
    /// Emails queued; each code is made by the delivery worker at send time.
    pub emailed: usize,
}

/// The token in a queued ballot email that the delivery worker replaces with a fresh code.
pub const CODE_TOKEN: &str = "\u{27e6}BALLOT-CODE\u{27e7}";

#[derive(Serialize, Deserialize)]
pub struct CodePayload {
    pub round_id: String,
    pub category: Category,
    pub departments: Vec<String>,
    /// The roll entry sealed to the round's revocation key (see `revocation`).
    #[serde(default)]
    pub roll_tag: Option<String>,
}

/// Every department id of the round, sorted: the order a sealed scope's bitmap follows.
fn round_department_ids(conn: &mut DbConnection, round_id: &RoundId) -> QueryResult<Vec<String>> {
    ballot_round_departments::table
        .filter(ballot_round_departments::round_id.eq(round_id))
        .order(ballot_round_departments::department_id.asc())
        .select(ballot_round_departments::department_id)
        .load(conn)
}

/// A new code: stored as its hash, its round, unspent, its scope sealed under the code, and its
/// roll tag (the roll entry sealed to the round's revocation key, when the round has one).
fn insert_credential(
    conn: &mut DbConnection,
    round_id: &RoundId,
    round_departments: &[String],
    category: Category,
    departments: &[String],
    roll_tag: Option<&str>,
) -> QueryResult<String> {
    let code = codes::generate();
    let canonical = codes::normalise(&code).expect("generated codes verify");
    let sealed = super::scope::seal(
        &canonical,
        round_id,
        round_departments,
        &super::scope::Scope { category, departments: departments.to_vec() },
    );
    diesel::insert_into(ballot_credentials::table)
        .values((
            ballot_credentials::code_hash.eq(codes::hash(&canonical)),
            ballot_credentials::round_id.eq(round_id),
            ballot_credentials::scope.eq(sealed),
            ballot_credentials::used.eq(false),
            ballot_credentials::roll_tag.eq(roll_tag),
        ))
        .execute(conn)?;
    Ok(code)
}

/// An emailed code made by the delivery worker: the code for the message, its hash to withdraw
/// it should the message fail.
pub struct EmailedCode {
    pub code: String,
    pub hash: String,
}

/// The delivery worker's half of emailed codes: a fresh credential for each message (keyed by
/// its outbox id) whose round has not closed — all of one batch in one transaction, inserted in
/// random order, so that the write-ahead log does not pair each code with the one address whose
/// email is marked sent next. A message whose code cannot be made gets its reason instead.
pub fn credentials_for_emails(
    conn: &mut DbConnection,
    messages: &[(String, String)],
) -> QueryResult<Vec<(String, BallotResult<EmailedCode>)>> {
    let mut order: Vec<&(String, String)> = messages.iter().collect();
    order.shuffle(&mut rand::rngs::OsRng);
    conn.transaction(|conn| {
        let mut made = Vec::with_capacity(order.len());
        let mut rounds: BTreeMap<String, Option<Vec<String>>> = BTreeMap::new();
        for (message_id, payload) in order {
            let p: CodePayload = match serde_json::from_str(payload) {
                Ok(p) => p,
                Err(e) => {
                    made.push((message_id.clone(), Err(BallotError::internal("ballot email payload", e))));
                    continue;
                }
            };
            // Each round of the batch is read once: still taking codes? and its departments.
            if !rounds.contains_key(&p.round_id) {
                let status = ballot_rounds::table
                    .find(&p.round_id)
                    .select(ballot_rounds::status)
                    .first::<String>(conn)
                    .optional()?;
                let taking = matches!(
                    status.as_deref().and_then(RoundStatus::parse),
                    Some(RoundStatus::Draft | RoundStatus::Open)
                );
                let departments =
                    if taking { Some(round_department_ids(conn, &RoundId::new(p.round_id.as_str()))?) } else { None };
                rounds.insert(p.round_id.clone(), departments);
            }
            let Some(round_departments) = &rounds[&p.round_id] else {
                made.push((message_id.clone(), Err(BallotError::NoMoreCodes)));
                continue;
            };
            let code = insert_credential(
                conn,
                &RoundId::new(p.round_id.as_str()),
                round_departments,
                p.category,
                &p.departments,
                p.roll_tag.as_deref(),
            )?;
            let hash = codes::hash(&codes::normalise(&code).expect("generated codes verify"));
            made.push((message_id.clone(), Ok(EmailedCode { code, hash })));
        }
        Ok(made)
    })
}

/// Withdraws a code whose email could not be sent, so a retry's new code is the only one.
pub fn withdraw_unsent_credential(conn: &mut DbConnection, hash: &str) -> QueryResult<usize> {
    diesel::delete(ballot_credentials::table.find(hash).filter(ballot_credentials::used.eq(false))).execute(conn)
}

/// Whether this service can deliver email at all: with no SMTP relay configured, messages are
/// only written as files, and an emailed code would never reach its voter.
pub fn email_deliverable(settings: &crate::config::Settings) -> bool {
    !settings.mail.smtp_url.trim().is_empty()
}

/// Issues a code to every voter on the roll who has none: paper codes come back as letters;
/// emailed ones are queued. Hashes are inserted in random order, with nothing linking them to
/// the roll, which records only that a letter was issued. When email cannot be delivered
/// (`email_deliverable` false) and a voter still to be issued has an email address, nothing is
/// issued: the officer is told up front instead of being told "emailed".
pub fn issue_codes(
    conn: &mut DbConnection,
    round_id: &RoundId,
    notices: &crate::complaints::notices::Notices,
    email_deliverable: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> BallotResult<Issued> {
    conn.transaction(|conn| {
        diesel::update(ballot_rounds::table.find(round_id))
            .set(ballot_rounds::updated_at.eq(to_db_time(now)))
            .execute(conn)?;
        let round = find(conn, round_id)?;
        if !matches!(round.status(), RoundStatus::Draft | RoundStatus::Open) {
            return Err(BallotError::IssueAfterClose);
        }
        let depts = round_departments(conn, round_id)?;
        // The order a sealed scope's bitmap follows, read once for every code issued here.
        let round_ids = round_department_ids(conn, round_id)?;
        let mut voters: Vec<(String, String, String, String, String, String)> = ballot_voters::table
            .filter(ballot_voters::round_id.eq(round_id))
            .filter(ballot_voters::letter_issued.eq(false))
            .select((
                ballot_voters::id,
                ballot_voters::name,
                ballot_voters::category,
                ballot_voters::contact,
                ballot_voters::departments,
                ballot_voters::language,
            ))
            .load(conn)?;
        let by_email = voters.iter().filter(|v| v.3 != "paper").count();
        if by_email > 0 && !email_deliverable {
            return Err(BallotError::MailNotDeliverable { by_email });
        }
        voters.shuffle(&mut rand::rngs::OsRng);
        let mut issued = Issued { letters: Vec::new(), emailed: 0 };
        // What every letter and email of the round says about where and until when to vote.
        let vote_link = format!("{}/vote?round={}", notices.public_base_url, round.id);
        let closes_at = from_db_time(round.closes_at)
            .with_timezone(&crate::calendar::shanghai())
            .format("%Y-%m-%d %H:%M")
            .to_string();
        for (voter_id, name, category, contact, departments, language) in &voters {
            let language =
                Language::parse(language).ok_or_else(|| BallotError::internal("roll", "unknown language"))?;
            let category =
                Category::parse(category).ok_or_else(|| BallotError::internal("roll", "unknown category"))?;
            let dept_ids: Vec<String> =
                serde_json::from_str(departments).map_err(|e| BallotError::internal("roll", e))?;
            let roll_tag = match &round.revocation_recipient {
                Some(recipient) => Some(
                    super::revocation::tag(recipient, voter_id).map_err(|e| BallotError::internal("roll tag", e))?,
                ),
                None => None,
            };
            if contact == "paper" {
                let code = insert_credential(conn, round_id, &round_ids, category, &dept_ids, roll_tag.as_deref())?;
                let names = depts.iter().filter(|d| dept_ids.contains(&d.id)).cloned().collect();
                issued.letters.push(Letter {
                    name: name.clone(),
                    code,
                    departments: names,
                    language,
                    vote_link: vote_link.clone(),
                    closes_at: closes_at.clone(),
                });
            } else {
                let names: Vec<&str> =
                    depts.iter().filter(|d| dept_ids.contains(&d.id)).map(|d| d.name_in(language)).collect();
                let vars = json!({
                    "name": name, "round_title": super::model::title_in(&round.title, language), "code": CODE_TOKEN, "departments": names,
                    "closes_at": closes_at, "vote_link": vote_link,
                });
                let rendered = notices
                    .templates
                    .render("ballot_code", language, &vars)
                    .map_err(|e| BallotError::internal("email template", e))?;
                let payload = serde_json::to_string(&CodePayload {
                    round_id: round_id.to_string(),
                    category,
                    departments: dept_ids,
                    roll_tag,
                })
                .expect("json");
                crate::mail::outbox::enqueue(
                    conn,
                    crate::mail::outbox::NewMail {
                        // Once per issue: a replaced code is a new message to the same voter.
                        dedupe_key: format!("ballot:{round_id}:{voter_id}:{}", codes::random_id()),
                        complaint_id: None,
                        notice: "ballot_code",
                        language,
                        recipient: contact,
                        rendered,
                        send_after: now,
                        payload: Some(payload),
                        guard: None,
                    },
                    now,
                    &notices.domain,
                )?;
                issued.emailed += 1;
            }
        }
        // One statement for all, so the roll's row order says nothing about the codes' order.
        diesel::update(
            ballot_voters::table
                .filter(ballot_voters::round_id.eq(round_id))
                .filter(ballot_voters::letter_issued.eq(false)),
        )
        .set(ballot_voters::letter_issued.eq(true))
        .execute(conn)?;
        crate::admin_log::record(
            conn,
            now,
            Some(actor),
            "ballot_round.issue_codes",
            &format!("ballot_round:{round_id}"),
            json!({"paper": issued.letters.len(), "emailed": issued.emailed}),
        )?;
        // Letters sorted by name for the officer; nothing about their order reaches the database.
        issued.letters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(issued)
    })
}

#[derive(Deserialize, utoipa::ToSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReissueRequest {
    /// Whose code is replaced: the name on a paper letter, or the email address the code went to.
    #[schema(max_length = 200)]
    pub voter: String,
    /// The unspent code being replaced, when it is still in hand (a letter returned undelivered,
    /// damaged, or seen by someone else). Give this or `revocation_key`.
    #[serde(default)]
    pub code: Option<String>,
    /// For a lost code: the round's revocation key (`AGE-SECRET-KEY-…`), shown once when the
    /// round was created. It finds the voter's unspent code without the code itself.
    #[serde(default)]
    pub revocation_key: Option<String>,
}

/// How the code being replaced is named: by the code itself, or — lost — through the round's
/// revocation key.
enum Replaced {
    Code { canonical: String, hash: String },
    Lost { revocation_key: String },
}

/// Revokes an unspent code and gives its roll entry a new one, then issues a code to that entry
/// (and to any other entry still waiting for one) as [`issue_codes`] does. With the code in hand,
/// its sealed scope must match the entry named (category and departments). Without it, the
/// round's revocation key opens the roll tags of the round's unspent codes to find the one of the
/// entry named; none is found when that voter has voted already (or their email is still queued).
#[allow(clippy::too_many_arguments)]
pub fn reissue(
    conn: &mut DbConnection,
    round_id: &RoundId,
    req: &ReissueRequest,
    notices: &crate::complaints::notices::Notices,
    email_deliverable: bool,
    actor: &str,
    now: DateTime<Utc>,
) -> BallotResult<Issued> {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    let replaced = match (given(&req.code), given(&req.revocation_key)) {
        (Some(code), None) => {
            let (canonical, hash) = canonical_and_hash(&code)?;
            Replaced::Code { canonical, hash }
        }
        (None, Some(revocation_key)) => Replaced::Lost { revocation_key },
        _ => {
            return Err(BallotError::invalid(
                "code",
                "code_or_revocation_key",
                "give the code being replaced or, for a lost code, the round's revocation key (one of the two)",
            ))
        }
    };
    let voter = req.voter.trim().to_string();
    if voter.is_empty() || voter.chars().count() > 200 {
        return Err(BallotError::invalid(
            "voter",
            "required",
            "the voter's name (paper) or email address, at most 200 characters",
        ));
    }
    conn.transaction(|conn| {
        diesel::update(ballot_rounds::table.find(round_id)).set(ballot_rounds::updated_at.eq(to_db_time(now))).execute(conn)?;
        let round = find(conn, round_id)?;
        if !matches!(round.status(), RoundStatus::Draft | RoundStatus::Open) {
            return Err(BallotError::ReplaceAfterClose);
        }
        // The roll entries this voter may be: issued a code already, named as on the roll.
        let entries: Vec<(String, String, String, String, String)> = ballot_voters::table
            .filter(ballot_voters::round_id.eq(round_id))
            .filter(ballot_voters::letter_issued.eq(true))
            .select((ballot_voters::id, ballot_voters::name, ballot_voters::category, ballot_voters::contact, ballot_voters::departments))
            .load(conn)?;
        let named: Vec<&(String, String, String, String, String)> = entries
            .iter()
            .filter(|(_, name, category, contact, _)| if contact == "paper" { voter_key(&voter, category, "paper") == voter_key(name, category, contact) } else { contact.eq_ignore_ascii_case(&voter) })
            .collect();
        let (hash, voter_id) = match &replaced {
            Replaced::Code { canonical, hash } => {
                let found: Option<(String, bool)> =
                    ballot_credentials::table.find(hash).filter(ballot_credentials::round_id.eq(round_id)).select((ballot_credentials::scope, ballot_credentials::used)).first(conn).optional()?;
                let Some((stored, false)) = found else { return Err(BallotError::CodeRefused) };
                let scope = open_scope(conn, round_id, canonical, &stored)?;
                let mut departments = scope.departments.clone();
                departments.sort();
                let entry = named.iter().find(|(_, _, category, _, depts)| {
                    category == scope.category.as_str()
                        && serde_json::from_str::<Vec<String>>(depts).map(|mut d| {
                            d.sort();
                            d == departments
                        }).unwrap_or(false)
                });
                let Some((voter_id, ..)) = entry else {
                    return Err(BallotError::invalid("voter", "not_this_voter", "this code was not issued to that voter on the roll"));
                };
                (hash.clone(), voter_id.clone())
            }
            Replaced::Lost { revocation_key } => {
                let Some(recipient) = round.revocation_recipient.as_deref() else {
                    return Err(BallotError::NoRevocationKey);
                };
                let key = super::revocation::RevocationKey::parse(revocation_key, recipient).map_err(|e| BallotError::invalid("revocation_key", "revocation_key", e.to_string()))?;
                if named.is_empty() {
                    return Err(BallotError::invalid("voter", "not_on_roll", "no voter on the roll who has been issued a code goes by that name or address"));
                }
                let tagged: Vec<(String, String)> = ballot_credentials::table
                    .filter(ballot_credentials::round_id.eq(round_id))
                    .filter(ballot_credentials::used.eq(false))
                    .filter(ballot_credentials::roll_tag.is_not_null())
                    .select((ballot_credentials::code_hash, ballot_credentials::roll_tag.assume_not_null()))
                    .load(conn)?;
                let found: Vec<(String, String)> = tagged
                    .into_iter()
                    .filter_map(|(hash, tag)| key.entry_of(&tag).filter(|entry| named.iter().any(|n| &n.0 == entry)).map(|entry| (hash, entry)))
                    .collect();
                match found.as_slice() {
                    [one] => one.clone(),
                    [] => {
                        return Err(BallotError::NoUnspentCode)
                    }
                    _ => return Err(BallotError::invalid("voter", "ambiguous", "several voters on the roll go by that name: replace the code with the code in hand, or name the email address")),
                }
            }
        };
        diesel::delete(ballot_credentials::table.find(&hash).filter(ballot_credentials::used.eq(false))).execute(conn)?;
        diesel::update(ballot_voters::table.find(&voter_id)).set(ballot_voters::letter_issued.eq(false)).execute(conn)?;
        let how = if matches!(replaced, Replaced::Lost { .. }) { "lost" } else { "in_hand" };
        crate::admin_log::record(conn, now, Some(actor), "ballot_round.reissue", &format!("ballot_round:{round_id}"), json!({"code": how}))?;
        issue_codes(conn, round_id, notices, email_deliverable, actor, now)
    })
}

// ---------------------------------------------------------------------------------------------
// Casting

#[derive(Deserialize, Serialize, utoipa::ToSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DepartmentRating {
    pub department_id: String,
    /// Question key → `satisfied | basically_satisfied | dissatisfied | not_enough_contact`.
    #[schema(value_type = Object)]
    pub answers: Answers,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CastRequest {
    /// The one-time code (spaces, dashes and lower case are fine).
    pub code: String,
    /// One entry per department the code may rate.
    pub ratings: Vec<DepartmentRating>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CastReceipt {
    /// Random, unrelated to the code; it will be listed on the published bulletin.
    pub receipt: String,
    /// The ballot as recorded, shown this once.
    pub ballot: Vec<DepartmentRating>,
}

/// The code as typed, normalised, and its hash.
fn canonical_and_hash(typed: &str) -> BallotResult<(String, String)> {
    let canonical = codes::normalise(typed).map_err(|e| BallotError::invalid("code", "invalid_code", e.to_string()))?;
    let hash = codes::hash(&canonical);
    Ok((canonical, hash))
}

/// Opens a credential's sealed scope with its code. A scope that does not open is refused like
/// an unknown code.
fn open_scope(
    conn: &mut DbConnection,
    round_id: &RoundId,
    canonical: &str,
    stored: &str,
) -> BallotResult<super::scope::Scope> {
    super::scope::open(canonical, round_id, &round_department_ids(conn, round_id)?, stored)
        .ok_or(BallotError::CodeRefused)
}

fn ensure_open(round: &RoundRow, now: DateTime<Utc>) -> BallotResult<()> {
    let open = round.status() == RoundStatus::Open
        && from_db_time(round.opens_at) <= now
        && now < from_db_time(round.closes_at);
    if open {
        Ok(())
    } else {
        Err(BallotError::NotOpen)
    }
}

/// The departments a code may rate, without spending it (the page shows them).
pub fn departments_for_code(
    conn: &mut DbConnection,
    round_id: &RoundId,
    typed: &str,
    now: DateTime<Utc>,
) -> BallotResult<Vec<RoundDepartment>> {
    let (canonical, hash) = canonical_and_hash(typed)?;
    let round = find(conn, round_id)?;
    ensure_open(&round, now)?;
    let found: Option<(String, bool)> = ballot_credentials::table
        .find(&hash)
        .filter(ballot_credentials::round_id.eq(round_id))
        .select((ballot_credentials::scope, ballot_credentials::used))
        .first(conn)
        .optional()?;
    let Some((stored, false)) = found else { return Err(BallotError::CodeRefused) };
    let ids = open_scope(conn, round_id, &canonical, &stored)?.departments;
    Ok(round_departments(conn, round_id)?.into_iter().filter(|d| ids.contains(&d.id)).collect())
}

/// Whether `receipt` is one of the round's receipts (the receipt page shown again in another
/// language; every receipt is public on the bulletin once the round is published).
pub fn receipt_in_round(conn: &mut DbConnection, round_id: &RoundId, receipt: &str) -> QueryResult<bool> {
    let found: i64 = ballot_receipts::table
        .filter(ballot_receipts::round_id.eq(round_id))
        .filter(ballot_receipts::receipt.eq(receipt))
        .count()
        .get_result(conn)?;
    Ok(found > 0)
}

/// Casts a ballot: in one transaction the code is spent (only if unspent: exactly one row), one
/// row per department is written with its own random id — no code, no time, no voter — and a
/// random receipt. Any error rolls everything back, the code included.
pub fn cast(
    conn: &mut DbConnection,
    round_id: &RoundId,
    req: CastRequest,
    now: DateTime<Utc>,
) -> BallotResult<CastReceipt> {
    let (canonical, hash) = canonical_and_hash(&req.code)?;
    conn.transaction(|conn| {
        let spent = diesel::update(
            ballot_credentials::table
                .find(&hash)
                .filter(ballot_credentials::round_id.eq(round_id))
                .filter(ballot_credentials::used.eq(false)),
        )
        // The roll tag goes as the code is spent: no stored tag ever sits beside a spent code.
        .set((ballot_credentials::used.eq(true), ballot_credentials::roll_tag.eq(None::<String>)))
        .execute(conn)?;
        let round = find(conn, round_id)?;
        ensure_open(&round, now)?;
        if spent != 1 {
            return Err(BallotError::CodeRefused);
        }
        let stored: String = ballot_credentials::table.find(&hash).select(ballot_credentials::scope).first(conn)?;
        let scope = open_scope(conn, round_id, &canonical, &stored)?;
        let allowed: BTreeSet<String> = scope.departments.iter().cloned().collect();
        let in_round: BTreeSet<String> = round_departments(conn, round_id)?.into_iter().map(|d| d.id).collect();
        let expected: BTreeSet<&String> = allowed.intersection(&in_round).collect();
        let given: BTreeSet<&String> = req.ratings.iter().map(|r| &r.department_id).collect();
        if given != expected || given.len() != req.ratings.len() {
            return Err(BallotError::invalid(
                "ratings",
                "departments",
                "rate exactly the departments this code applies to, once each",
            ));
        }
        let questions = round.questions();
        for r in &req.ratings {
            let keys: BTreeSet<&String> = r.answers.keys().collect();
            let wanted: BTreeSet<&String> = questions.iter().map(|q| &q.key).collect();
            if keys != wanted {
                return Err(BallotError::invalid(
                    "ratings",
                    "answers",
                    "answer every question of the round, and only those",
                ));
            }
        }
        let mut sealed = Vec::new();
        for r in &req.ratings {
            // The category is kept only where the roll gives the (department, category) cell
            // at least k voters; smaller cells could never be shown, and are merged at once.
            let cell = roll_cell(conn, round_id, &r.department_id, scope.category)?;
            let category = if cell >= i64::from(round.min_group_size) { scope.category.as_str() } else { "" };
            if round.seal_recipient.is_some() {
                sealed.push(super::seal::SealedRating {
                    department_id: r.department_id.clone(),
                    category: category.to_string(),
                    answers: r.answers.clone(),
                });
                continue;
            }
            // A round opened before ballots were sealed keeps writing them as it began.
            diesel::insert_into(ballots::table)
                .values((
                    ballots::id.eq(codes::random_id()),
                    ballots::round_id.eq(round_id),
                    ballots::department_id.eq(&r.department_id),
                    ballots::category.eq(category),
                    ballots::answers.eq(serde_json::to_string(&r.answers).expect("json")),
                ))
                .execute(conn)?;
        }
        if let Some(recipient) = &round.seal_recipient {
            // One sealed ballot per voter, whatever the departments: no row says which were rated.
            let all: Vec<String> = round_department_ids(conn, round_id)?;
            let bytes = super::seal::seal(recipient, &all, &questions, sealed)
                .map_err(|e| BallotError::internal("sealing a ballot", e))?;
            diesel::insert_into(sealed_ballots::table)
                .values((
                    sealed_ballots::id.eq(codes::random_id()),
                    sealed_ballots::round_id.eq(round_id),
                    sealed_ballots::sealed.eq(bytes),
                ))
                .execute(conn)?;
        }
        let receipt = codes::receipt();
        diesel::insert_into(ballot_receipts::table)
            .values((ballot_receipts::receipt.eq(&receipt), ballot_receipts::round_id.eq(round_id)))
            .execute(conn)?;
        Ok(CastReceipt { receipt, ballot: req.ratings })
    })
}

/// How many voters of `category` the roll names for `department_id`.
fn roll_cell(conn: &mut DbConnection, round_id: &RoundId, department_id: &str, category: Category) -> QueryResult<i64> {
    // Department ids are quoted in the roll's JSON list, so the pattern matches whole ids only.
    ballot_voters::table
        .filter(ballot_voters::round_id.eq(round_id))
        .filter(ballot_voters::category.eq(category.as_str()))
        .filter(ballot_voters::departments.like(format!("%\"{}\"%", department_id.replace(['%', '_', '"'], ""))))
        .count()
        .get_result(conn)
}

/// A stored category: "" where the cell was merged.
fn stored_category(c: &str) -> BallotResult<Option<Category>> {
    if c.is_empty() {
        Ok(None)
    } else {
        Category::parse(c).map(Some).ok_or_else(|| BallotError::internal("ballot row", "unknown category"))
    }
}

// ---------------------------------------------------------------------------------------------
// Results

fn ballot_rows(conn: &mut DbConnection, round_id: &RoundId) -> BallotResult<Vec<BallotRow>> {
    let rows: Vec<(String, String, String, String)> = ballots::table
        .filter(ballots::round_id.eq(round_id))
        .order(ballots::id.asc())
        .select((ballots::id, ballots::department_id, ballots::category, ballots::answers))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, department_id, category, answers)| {
            Ok(BallotRow {
                id,
                department_id,
                category: stored_category(&category)?,
                answers: serde_json::from_str::<BTreeMap<String, Answer>>(&answers)
                    .map_err(|e| BallotError::internal("ballot row", e))?,
            })
        })
        .collect()
}

/// The tally of a closed or published round.
pub fn results(conn: &mut DbConnection, round: &RoundRow) -> BallotResult<Vec<DepartmentTally>> {
    if !matches!(round.status(), RoundStatus::Closed | RoundStatus::Published) {
        return Err(BallotError::NoResultsYet);
    }
    if round.seal_recipient.is_some() {
        return Err(BallotError::StillSealed);
    }
    // Identical ballots are counted by the database: the work left here follows the number of
    // distinct ballots, not the number of rows.
    #[derive(diesel::QueryableByName)]
    struct Group {
        #[diesel(sql_type = diesel::sql_types::Text)]
        department_id: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        category: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        answers: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let sql = "SELECT department_id, category, answers, COUNT(*) AS n FROM ballots WHERE round_id = ? GROUP BY department_id, category, answers";
    let rows: Vec<Group> = match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query(sql.replace('?', "$1")).bind::<diesel::sql_types::Text, _>(&round.id).load(pg)?
        }
        DbConnection::Sqlite(lite) => {
            diesel::sql_query(sql).bind::<diesel::sql_types::Text, _>(&round.id).load(lite)?
        }
    };
    let groups = rows
        .into_iter()
        .map(|g| {
            Ok((
                g.department_id,
                stored_category(&g.category)?,
                serde_json::from_str::<BTreeMap<String, Answer>>(&g.answers)
                    .map_err(|e| BallotError::internal("ballot row", e))?,
                g.n as u32,
            ))
        })
        .collect::<BallotResult<Vec<_>>>()?;
    let depts: Vec<String> = round_departments(conn, &round.id)?.into_iter().map(|d| d.id).collect();
    Ok(super::tally::tally_groups(&depts, &round.questions(), &round.points(), round.min_group_size as u32, &groups))
}

/// The public bulletin of a published round.
pub fn bulletin(conn: &mut DbConnection, round: &RoundRow) -> BallotResult<Bulletin> {
    if round.status() != RoundStatus::Published {
        return Err(BallotError::BulletinNotPublished);
    }
    let tally = results(conn, round)?;
    let shown: BTreeSet<&String> = tally.iter().filter(|t| !t.suppressed).map(|t| &t.department_id).collect();
    // Categories are published only where the tally shows them (every category at least k).
    let with_categories: BTreeSet<&String> =
        tally.iter().filter(|t| t.by_category.is_some()).map(|t| &t.department_id).collect();
    let listed: Vec<BallotRow> = ballot_rows(conn, &round.id)?
        .into_iter()
        .filter(|b| shown.contains(&b.department_id))
        .map(|b| if with_categories.contains(&b.department_id) { b } else { BallotRow { category: None, ..b } })
        .collect();
    let (totals, counts) = super::tally::count_groups(&round.questions(), &super::tally::group(&listed));
    let mut receipts: Vec<String> = ballot_receipts::table
        .filter(ballot_receipts::round_id.eq(&round.id))
        .select(ballot_receipts::receipt)
        .load(conn)?;
    receipts.sort();
    let issued: i64 =
        ballot_credentials::table.filter(ballot_credentials::round_id.eq(&round.id)).count().get_result(conn)?;
    let used: i64 = ballot_credentials::table
        .filter(ballot_credentials::round_id.eq(&round.id))
        .filter(ballot_credentials::used.eq(true))
        .count()
        .get_result(conn)?;
    Ok(Bulletin {
        round_id: round.id.to_string(),
        title: round.title.clone(),
        year: round.year,
        min_group_size: round.min_group_size as u32,
        questions: round.questions(),
        points: round.points(),
        departments: round_departments(conn, &round.id)?.into_iter().map(|d| d.id).collect(),
        codes_issued: issued as u32,
        codes_used: used as u32,
        receipts,
        totals,
        counts,
        tally,
    })
}

#[cfg(test)]
mod roll_tests {
    use super::*;
    use proptest::prelude::*;

    fn department_of(code: &str) -> Option<String> {
        ["commerce", "drc", "tax"].contains(&code).then(|| format!("id-{code}"))
    }

    #[test]
    fn a_good_roll_parses_and_every_bad_row_is_named() {
        let csv = "name,category,contact,departments\n\
                   Anna,enterprise_served,anna@example.de,commerce;tax\n\
                   Bo,enterprise_served,paper,drc\n\
                   ,nobody,not-an-email,unknown\n";
        let (voters, errors) = parse_roll(csv, &department_of);
        assert_eq!(voters.len(), 2);
        assert_eq!(voters[0].departments, vec!["id-commerce".to_string(), "id-tax".to_string()]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 4);
        for part in ["name", "category", "contact", "departments"] {
            assert!(errors[0].message.contains(part), "{}", errors[0].message);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// Arbitrary text never panics; every error names a line of the input; nothing is both
        /// accepted and refused.
        #[test]
        fn arbitrary_rolls_never_panic(body in proptest::collection::vec("[a-z@.;,\"\\n ]{0,30}|\\PC{0,30}", 0..12)) {
            let text = format!("name,category,contact,departments\n{}", body.join("\n"));
            let lines = text.lines().count().max(1);
            let (voters, errors) = parse_roll(&text, &department_of);
            for e in &errors {
                prop_assert!(e.line >= 1 && e.line <= lines + 1, "line {} of {}", e.line, lines);
                prop_assert!(!e.message.is_empty());
            }
            for v in &voters {
                prop_assert!(!v.departments.is_empty());
                prop_assert!(v.contact == "paper" || v.contact.contains('@'));
            }
        }
    }
}
