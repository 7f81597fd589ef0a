//! The SQL an investor's filing and a department's reply make, statement by statement — the
//! figures docs/ARCHITECTURE.md's walkthroughs and docs/performance.md quote. Printed in full
//! (`--no-capture`); the test holds the writes to what the walkthroughs promise: a filing writes
//! its complaint row once (the INSERT); a reply locks the complaint row and writes its new state
//! in one UPDATE, and its clock row in one.

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

/// The statements `act` makes (transaction control left out), printed.
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
        .collect();
    println!("== {what}: {} statements", all.len());
    for s in &all {
        println!("  {s}");
    }
    all
}

/// A statement as the walkthroughs name it: `SELECT <table>`, `INSERT <table>`, `UPDATE <table>
/// SET <columns>`, `DELETE <table>` (quotes of either backend removed).
fn short(sql: &str) -> String {
    let sql = sql.replace(['`', '"'], "");
    let words: Vec<&str> = sql.split_whitespace().collect();
    let after = |w: &str| words.iter().position(|x| x.eq_ignore_ascii_case(w)).and_then(|i| words.get(i + 1)).copied();
    match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
        Some("SELECT") => match after("FROM") {
            Some(table) => format!("SELECT {table}"),
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

fn updates_of(statements: &[String], table: &str) -> usize {
    statements.iter().filter(|s| s.starts_with(&format!("UPDATE {table} SET"))).count()
}

#[test]
fn a_filing_and_a_reply_make_the_statements_the_walkthroughs_name() {
    set_default_instrumentation(|| Some(Box::new(Recorder))).unwrap();
    // The sweeper and the delivery loop stay quiet while the requests are recorded.
    let app = common::spawn_app_with(|s| {
        s.escalation.sweep_interval_secs = 3600;
        s.mail.deliver_interval_secs = 3600;
    });
    let admin = app.admin_token();
    let department = app.create_department(&admin, "land");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let clerk = app.staff_token(&admin, "department", Some(&department));
    std::thread::sleep(std::time::Duration::from_millis(300));

    let mut id = String::new();
    let filing = recorded("an investor files", || {
        let r = app.post("/api/v1/complaints", None, &common::complaint_json("en"));
        assert_eq!(r.status, 201, "{}", r.body);
        id = r.json()["id"].as_str().unwrap().to_string();
    });
    assert!(filing.iter().any(|s| s == "INSERT complaints"), "{filing:#?}");
    assert_eq!(updates_of(&filing, "complaints"), 0, "the due instant is in the INSERT: {filing:#?}");
    let r =
        app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": department}));
    assert_eq!(r.status, 200, "{}", r.body);

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
}
