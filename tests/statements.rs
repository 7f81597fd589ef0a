//! The SQL an investor's filing, a tracking read and a department's reply make, statement by
//! statement — the figures docs/ARCHITECTURE.md's walkthroughs and docs/performance.md quote.
//! Printed in full (`--no-capture`); the test holds them to what the walkthroughs promise: a
//! filing writes each of its rows once, reads nothing back and takes the tracking counter only
//! for the rows that carry the number; a repeated tracking read reads the complaint row joined to
//! its department in one statement, the rest from the cache, which a change makes stale; a reply locks the complaint
//! row and writes its new state in one UPDATE, and its clock row in one.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
use serde_json::json;

static RECORDING: AtomicBool = AtomicBool::new(false);
static STATEMENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Recorder;

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            if RECORDING.load(Ordering::SeqCst) {
                STATEMENTS.lock().unwrap().push(query.to_string());
            }
        }
    }
}

/// The statements `act` makes (transaction control, the pool's connection checks, the rate limits and
/// checkpoints left out), printed.
fn recorded(what: &str, act: impl FnOnce()) -> Vec<String> {
    STATEMENTS.lock().unwrap().clear();
    RECORDING.store(true, Ordering::SeqCst);
    act();
    RECORDING.store(false, Ordering::SeqCst);
    let all: Vec<String> = STATEMENTS
        .lock()
        .unwrap()
        .iter()
        .map(|s| short(s.split(" -- binds:").next().unwrap_or(s)))
        .filter(|s| {
            let head = s.to_ascii_uppercase();
            !["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"].iter().any(|k| head.starts_with(k))
        })
        // The pool's check of a connection it hands out, PostgreSQL's count of the client's
        // requests (`rate_limits`, the public door's) and SQLite's background checkpoints
        // (`db::sqlite_writer`'s own thread, recorded whenever it runs): not the operation's own.
        .filter(|s| s != "SELECT 1" && !s.contains("rate_limits") && !s.starts_with("PRAGMA wal_checkpoint"))
        .collect();
    println!("== {what}: {} statements", all.len());
    for s in &all {
        println!("  {s}");
    }
    all
}

/// A statement as the walkthroughs name it: `SELECT <table>` (`SELECT <table> JOIN <table>`), `INSERT <table>`, `UPDATE <table>
/// SET <columns>`, `DELETE <table>` (quotes of either backend removed).
fn short(sql: &str) -> String {
    let sql = sql.replace(['`', '"'], "");
    let words: Vec<&str> = sql.split_whitespace().collect();
    let after = |w: &str| words.iter().position(|x| x.eq_ignore_ascii_case(w)).and_then(|i| words.get(i + 1)).copied();
    match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
        Some("SELECT") => match after("FROM") {
            Some(table) => {
                // A join reads as `SELECT a JOIN b` (diesel writes `FROM (a LEFT OUTER JOIN b ON …)`).
                let joined = after("JOIN").map(|t| format!(" JOIN {}", t.trim_matches(['(', ')']))).unwrap_or_default();
                format!("SELECT {}{joined}", table.trim_matches(['(', ')']))
            }
            None => sql.trim().to_string(),
        },
        Some("INSERT") => format!("INSERT {}", after("INTO").unwrap_or("?")),
        Some("UPDATE") => {
            let set = sql.split(" SET ").nth(1).unwrap_or("").split(" WHERE ").next().unwrap_or("");
            let columns: Vec<&str> = set
                .split(", ")
                .filter_map(|a| a.split(" = ").next())
                .map(|c| c.rsplit('.').next().unwrap_or(c).trim())
                .collect();
            format!("UPDATE {} SET {}", words.get(1).unwrap_or(&"?"), columns.join(", "))
        }
        Some("DELETE") => format!("DELETE {}", after("FROM").unwrap_or("?")),
        _ => sql.trim().to_string(),
    }
}

/// An instance whose connections are recorded, with the sweeper and the delivery loop quiet
/// while the requests are.
fn recording_app() -> common::TestApp {
    set_default_instrumentation(|| Some(Box::new(Recorder))).unwrap();
    common::spawn_app_with(|s| {
        s.escalation.sweep_interval_secs = 3600;
        s.mail.deliver_interval_secs = 3600;
    })
}

fn updates_of(statements: &[String], table: &str) -> usize {
    statements.iter().filter(|s| s.starts_with(&format!("UPDATE {table} SET"))).count()
}

#[test]
fn a_filing_and_a_reply_make_the_statements_the_walkthroughs_name() {
    let app = recording_app();
    let admin = app.admin_token();
    let department = app.create_department(&admin, "land");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let clerk = app.staff_token(&admin, "department", Some(&department));
    std::thread::sleep(std::time::Duration::from_millis(300));

    let (mut id, mut code) = (String::new(), String::new());
    let filing = recorded("an investor files", || {
        let r = app.post("/api/v1/complaints", None, &common::complaint_json("en"));
        assert_eq!(r.status, 201, "{}", r.body);
        id = r.json()["id"].as_str().unwrap().to_string();
        code = r.json()["access_code"].as_str().unwrap().to_string();
    });
    assert!(filing.iter().any(|s| s == "INSERT complaints"), "{filing:#?}");
    assert_eq!(updates_of(&filing, "complaints"), 0, "the due instant is in the INSERT: {filing:#?}");
    // On SQLite the filings' group (`db::group_commit`) takes the write lock before anything
    // reads, once per group; then the receipt's budget (logged, then counted: a write first);
    // then the counter and the four rows that carry the number, and nothing else while the
    // counter is held.
    let group_lock: &[&str] = if common::uses_postgres() { &[] } else { &["UPDATE tracking_counters SET last_seq"] };
    let filing_itself = [
        "INSERT investor_mail_log",
        "SELECT investor_mail_log",
        "INSERT tracking_counters",
        "INSERT complaints",
        "INSERT complaint_clocks",
        "INSERT complaint_events",
        "INSERT outbox",
    ];
    assert_eq!(
        filing,
        group_lock.iter().chain(filing_itself.iter()).map(|s| s.to_string()).collect::<Vec<_>>(),
        "{filing:#?}"
    );
    let filed = app.get(&format!("/api/v1/complaints/{id}"), Some(&coordinator)).json();
    let number = filed["tracking_number"].as_str().unwrap().to_string();
    let r =
        app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": department}));
    assert_eq!(r.status, 200, "{}", r.body);

    let track = |what: &str| {
        let mut view = serde_json::Value::Null;
        let statements = recorded(what, || {
            let r = app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", &code)], None);
            assert_eq!(r.status, 200, "{}", r.body);
            view = r.json();
        });
        (statements, view)
    };
    // The assignment's answer (the staff view) read the rest of the complaint into the cache.
    let (reading, view) = track("the investor reads the tracking page");
    // The row and its department in one statement (a join), and nothing else.
    assert_eq!(reading, ["SELECT complaints JOIN departments"].map(String::from), "{reading:#?}");
    assert_eq!(view["department"]["id"], department.as_str(), "{view}");
    assert!(view["reply"].is_null());

    let reply = recorded("a department replies", || {
        let r = app.post(
            &format!("/api/v1/complaints/{id}/reply"),
            Some(&clerk),
            &json!({"text": "Done.", "outcome": "resolved"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    });
    // The complaint row: the lock taken before anything is read (a version bump, so that SQLite
    // takes its write lock first too), then the new state in one statement.
    assert_eq!(updates_of(&reply, "complaints"), 2, "the lock and the new state: {reply:#?}");
    assert_eq!(updates_of(&reply, "complaint_clocks"), 1, "the reply writes its clock row once: {reply:#?}");

    // The reply bumped the row's version: what was cached before it is not used again, the
    // reply's event is in the history at once.
    let (_, view) = track("the investor reads the reply");
    assert_eq!(view["reply"]["text"], "Done.", "{view}");
    assert!(view["history"].as_array().unwrap().iter().any(|e| e["action"] == "reply"), "{view}");
}

#[test]
fn each_staff_operation_writes_the_complaint_row_once_after_its_lock() {
    let app = recording_app();
    let admin = app.admin_token();
    let land = app.create_department(&admin, "land");
    let water = app.create_department(&admin, "water");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let clerk = app.staff_token(&admin, "department", Some(&land));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let filed = app.post("/api/v1/complaints", None, &common::complaint_json("en")).json();
    let id = filed["id"].as_str().unwrap().to_string();
    let (number, code) = (filed["tracking_number"].as_str().unwrap(), filed["access_code"].as_str().unwrap());

    // `writes`: the UPDATEs of the complaint row after the lock (an extension request changes
    // nothing on it; every other operation, one).
    let step = |what: &str,
                writes: usize,
                path: &str,
                token: Option<&str>,
                body: serde_json::Value,
                headers: &[(&str, &str)]| {
        let mut answer = serde_json::Value::Null;
        let statements = recorded(what, || {
            let r =
                app.request("POST", path, token, headers, Some(("application/json", body.to_string().into_bytes())));
            assert_eq!(r.status, 200, "{what}: {}", r.body);
            answer = r.json();
        });
        // The lock (a version bump, before anything is read), then the operation's own UPDATEs.
        assert_eq!(updates_of(&statements, "complaints"), 1 + writes, "{what}: {statements:#?}");
        answer
    };
    let complaint = |tail: &str| format!("/api/v1/complaints/{id}/{tail}");
    let v = step("assign", 1, &complaint("assign"), Some(&coordinator), json!({"department_id": land}), &[]);
    assert_eq!(v["department"]["id"], land.as_str());
    let v = step(
        "request information",
        1,
        &complaint("request-info"),
        Some(&clerk),
        json!({"question": "The permit?"}),
        &[],
    );
    assert_eq!(v["status"], "awaiting_investor");
    let v = step(
        "the investor answers",
        1,
        &format!("/api/v1/track/{number}/answer"),
        None,
        json!({"answer": "Attached."}),
        &[("X-Access-Code", code)],
    );
    assert_eq!(v["can_answer"], false);
    let v = step(
        "request an extension",
        0,
        &complaint("extension-requests"),
        Some(&clerk),
        json!({"days": 3, "reason": "Site visit"}),
        &[],
    );
    let request_id = v["extensions"][0]["id"].as_str().unwrap().to_string();
    let due_before = v["clock"]["due_at"].clone();
    let v = step(
        "approve the extension",
        1,
        &complaint(&format!("extension-requests/{request_id}/decision")),
        Some(&coordinator),
        json!({"approve": true, "days": 3, "reason": "Fine"}),
        &[],
    );
    assert_ne!(v["clock"]["due_at"], due_before, "{v}");
    // The list's due instant is the clock's: the one UPDATE carried it.
    let listed = app.get("/api/v1/complaints", Some(&coordinator)).json();
    let line = listed["items"].as_array().unwrap().iter().find(|c| c["id"] == id.as_str()).unwrap().clone();
    assert_eq!(line["due_at"], v["clock"]["due_at"], "{line}");
    let v = step(
        "reassign",
        1,
        &complaint("reassign"),
        Some(&coordinator),
        json!({"department_id": water, "reason": "Water matter"}),
        &[],
    );
    assert_eq!(v["department"]["id"], water.as_str());
}

/// The filing thread writes a group of filings together (`service::file_together`): the
/// statements of one filing, whatever the group's size, with each filing answered as it would
/// be alone (a retried key replays, an unknown department is refused and writes nothing, the
/// numbers follow the group's order).
#[test]
fn a_group_of_filings_is_written_with_the_statements_of_one_filing() {
    use anshang::complaints::intake::{validate, FileComplaintRequest};
    use anshang::complaints::service::{self, Acting, IdempotencyKey, ToFile};
    use diesel::prelude::*;

    let app = recording_app();
    let admin = app.admin_token();
    let land = app.create_department(&admin, "land");
    // The instance's database as the filing thread reaches it, with the instance's rules.
    let url = anshang::db::DatabaseUrl::parse(&app.settings.database.url, &app.settings.server.data_dir).unwrap();
    let pool = anshang::db::connect_pool(&url, 2, std::time::Duration::from_secs(5)).unwrap();
    let state = anshang::state::AppState::new(app.settings.clone(), pool.clone()).unwrap();
    let calendar = state.calendar.current();
    let mut conn = pool.get().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));

    let complaint = |department: Option<&str>| {
        let mut body = common::complaint_json("en");
        if let Some(d) = department {
            body["department_id"] = json!(d);
        }
        validate(serde_json::from_value::<FileComplaintRequest>(body).unwrap(), false).unwrap()
    };
    let investor = Acting::investor();
    let retried = (IdempotencyKey::parse("retried-key-0001").unwrap(), "body-hash".to_string());
    let fresh_key = (IdempotencyKey::parse("fresh-key-0002").unwrap(), "body-hash".to_string());
    let ctx = || state.rules.ctx(&calendar, anshang::db::now());
    let earlier = service::file(&mut conn, &ctx(), &complaint(None), &investor, Some(&retried)).unwrap();

    let (with_land, plain, unknown) = (complaint(Some(&land)), complaint(None), complaint(Some("no-such-department")));
    let group = [
        ToFile { ctx: ctx(), complaint: &with_land, acting: &investor, idempotency: None },
        ToFile { ctx: ctx(), complaint: &plain, acting: &investor, idempotency: Some(&retried) },
        ToFile { ctx: ctx(), complaint: &unknown, acting: &investor, idempotency: None },
        ToFile { ctx: ctx(), complaint: &plain, acting: &investor, idempotency: Some(&fresh_key) },
    ];
    let mut outcomes = Vec::new();
    let statements = recorded("a group of four filings", || {
        outcomes = conn.transaction(|conn| service::file_together(conn, &group)).unwrap();
    });
    // One look-up of the keys (and the replay's clock), one of the departments, the receipts'
    // budget, the counter once, then one INSERT per table. SQLite, in the process, has no round
    // trip to save: there diesel writes a multi-row INSERT as one statement per row (two here).
    let rows = |insert: &'static str| if common::uses_postgres() { vec![insert] } else { vec![insert, insert] };
    let expected: Vec<&str> = [
        vec!["SELECT complaints", "SELECT complaint_clocks", "SELECT departments"],
        rows("INSERT investor_mail_log"),
        vec!["SELECT investor_mail_log", "INSERT tracking_counters"],
        rows("INSERT complaints"),
        rows("INSERT complaint_clocks"),
        rows("INSERT complaint_events"),
        rows("INSERT outbox"),
    ]
    .concat();
    assert_eq!(statements, expected, "{statements:#?}");

    let mut outcomes = outcomes.into_iter();
    let first = outcomes.next().unwrap().unwrap();
    let replayed = outcomes.next().unwrap().unwrap();
    let refused = outcomes.next().unwrap();
    let last = outcomes.next().unwrap().unwrap();
    assert_eq!((replayed.complaint.id.as_str(), replayed.replayed), (earlier.complaint.id.as_str(), true));
    assert_eq!(replayed.access_code, earlier.access_code, "a retry within the day sees the code again");
    assert!(
        matches!(&refused, Err(anshang::complaints::error::ComplaintError::Invalid(_))),
        "{:?}",
        refused.as_ref().err()
    );
    let seqs = [earlier.complaint.tracking_seq, first.complaint.tracking_seq, last.complaint.tracking_seq];
    assert_eq!(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2], "the numbers follow the group's order, gapless");
    assert!(!first.replayed && !last.replayed);

    // Written as one filing alone writes: the refused one left nothing, the others are readable
    // with their codes, their audit trails start at the genesis and their receipts are queued.
    use anshang::db::schema::{complaint_events, complaints, outbox};
    let rows: i64 = complaints::table.count().get_result(&mut conn).unwrap();
    assert_eq!(rows, 3);
    for filed in [&first, &last] {
        let number = &filed.complaint.tracking_number;
        let code = filed.access_code.as_deref().unwrap();
        let r = app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", code)], None);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["history"][0]["action"], "file", "{}", r.body);
        let events: i64 = complaint_events::table
            .filter(complaint_events::complaint_id.eq(filed.complaint.id.as_str()))
            .count()
            .get_result(&mut conn)
            .unwrap();
        let receipts: i64 = outbox::table
            .filter(outbox::complaint_id.eq(filed.complaint.id.as_str()))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!((events, receipts), (1, 1));
    }
    let concerned: Option<String> = complaints::table
        .filter(complaints::id.eq(first.complaint.id.as_str()))
        .select(complaints::concerned_department_id)
        .first(&mut conn)
        .unwrap();
    assert_eq!(concerned.as_deref(), Some(land.as_str()));
}
