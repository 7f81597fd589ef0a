//! Anonymous conduct ballots end to end: a round from draft to published through the API and
//! the CLI with paper and emailed codes; the bulletin recounted; suppression of small groups;
//! order and concurrency; and scans for anything that could link a ballot to a voter.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use common::smtp::SmtpSink;
use common::{Resp, TestApp};
use serde_json::{json, Value};

const QUESTIONS: [&str; 4] = ["overall", "efficiency", "attitude", "integrity"];
const ANSWERS: [&str; 4] = ["satisfied", "basically_satisfied", "dissatisfied", "not_enough_contact"];

fn cli(app: &TestApp, smtp: Option<u16>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = common::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    cmd.args(args);
    cmd.env("ANSHANG__DATABASE__URL", &app.database.url).env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path());
    if let Some(p) = smtp {
        cmd.env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{p}"));
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Round {
    id: String,
    departments: Vec<(String, String)>, // (code, id)
    commission: String,
    /// Shown once, when the round was created.
    revocation_key: String,
}

/// A round over `n_departments` departments, open from a minute ago for an hour.
fn round(app: &TestApp, prefix: &str, n_departments: usize, k: u32) -> Round {
    let admin = app.admin_token();
    let commission = app.staff_token(&admin, "commission", None);
    let departments: Vec<(String, String)> = (0..n_departments)
        .map(|i| {
            let code = format!("{prefix}-{i}");
            let id = app.create_department(&admin, &code);
            (code, id)
        })
        .collect();
    let ids: Vec<String> = departments.iter().map(|d| d.1.clone()).collect();
    let (id, revocation_key) = app.create_ballot_round_keyed(&commission, &ids, k);
    Round { id, departments, commission, revocation_key }
}

fn import(app: &TestApp, r: &Round, csv: &str) -> Resp {
    app.request(
        "POST",
        &format!("/api/v1/ballots/rounds/{}/voters", r.id),
        Some(&r.commission),
        &[],
        Some(("text/csv", csv.as_bytes().to_vec())),
    )
}

/// The key shares each round's opening handed out, as the trustees keep them.
static SHARES: std::sync::Mutex<BTreeMap<String, Vec<String>>> = std::sync::Mutex::new(BTreeMap::new());

fn keep_shares(round: &str, shares: Vec<String>) {
    SHARES.lock().unwrap().insert(round.to_string(), shares);
}

fn shares_of(round: &str) -> Vec<String> {
    SHARES.lock().unwrap().get(round).cloned().unwrap_or_default()
}

/// An officer's step. "open" keeps the key shares for the trustees; "close" is followed, as in
/// one sitting, by the trustees opening the ballots with them.
fn officer_post(app: &TestApp, r: &Round, action: &str) -> Resp {
    let resp = app.post(&format!("/api/v1/ballots/rounds/{}/{action}", r.id), Some(&r.commission), &json!({}));
    if action == "open" && resp.status == 200 {
        keep_shares(
            &r.id,
            resp.json()["key_shares"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect(),
        );
    }
    if action == "close" && resp.status == 200 {
        let opened = unseal(app, r);
        assert_eq!(opened.status, 200, "{}", opened.body);
        return opened;
    }
    resp
}

fn unseal(app: &TestApp, r: &Round) -> Resp {
    app.post(
        &format!("/api/v1/ballots/rounds/{}/unseal", r.id),
        Some(&r.commission),
        &json!({"key_shares": shares_of(&r.id)}),
    )
}

fn shares_in(text: &str) -> Vec<String> {
    text.split_whitespace().filter(|w| w.starts_with("ANSHANG-KEY-SHARE-")).map(str::to_string).collect()
}

fn answers(pattern: usize) -> Value {
    // Encodes 0..256 in the four answers (base 4), so every ballot in a test can be told apart.
    let mut m = serde_json::Map::new();
    for (i, q) in QUESTIONS.iter().enumerate() {
        m.insert(q.to_string(), json!(ANSWERS[(pattern >> (2 * i)) & 3]));
    }
    Value::Object(m)
}

fn cast(app: &TestApp, round: &str, code: &str, departments: &[String], pattern: usize) -> Resp {
    let ratings: Vec<Value> =
        departments.iter().map(|d| json!({"department_id": d, "answers": answers(pattern)})).collect();
    app.post(&format!("/api/v1/ballots/{round}/cast"), None, &json!({"code": code, "ratings": ratings}))
}

fn codes_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        let parts: Vec<&str> = w.split('-').collect();
        if parts.len() == 5 && parts[..4].iter().all(|p| p.len() == 4) && parts[4].len() == 1 {
            out.push(w.to_string());
        }
    }
    out
}

#[test]
fn a_round_of_30_enterprises_and_6_departments_runs_from_draft_to_a_verified_bulletin() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.deliver_interval_secs = 3600;
        s.ballots.attempts_per_client_per_minute = 1000;
    });
    let r = round(&app, "dept", 6, 5);
    // 30 enterprises: 20 on paper, 10 by email; the sixth department dealt with only 4 of them.
    let all: Vec<&str> = r.departments[..5].iter().map(|d| d.0.as_str()).collect();
    let mut csv = String::from("name,category,contact,departments\n");
    for i in 0..30 {
        let category = match i % 6 {
            0 => "conduct_monitor",
            1 => "enterprise_representative",
            _ => "enterprise_served",
        };
        let contact = if i < 20 { "paper".to_string() } else { format!("voter{i}@enterprise.example.cn") };
        let mut depts = all.join(";");
        if i < 4 {
            depts.push_str(";dept-5");
        }
        csv.push_str(&format!("企业{i:02} Enterprise {i},{category},{contact},{depts}\n"));
    }
    // A wrong roll is refused whole, with every wrong row named.
    let bad = import(
        &app,
        &r,
        "name,category,contact,departments\nA,enterprise_served,paper,dept-0\nB,tourist,nowhere,dept-9\n",
    );
    let report = bad.assert_problem(422, "invalid-field");
    assert_eq!(report["errors"].as_array().unwrap().len(), 1);
    assert_eq!(report["errors"][0]["field"], "line 3");
    let msg = report["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("category") && msg.contains("contact") && msg.contains("dept-9"), "{msg}");
    let ok = import(&app, &r, &csv);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["imported"], 30);

    // Letters that cannot be written issue no code: existing files are never overwritten, and
    // the codes roll back with the failed write.
    let taken = app.data_dir.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("letters.html"), "someone else's letters").unwrap();
    let (success, _, err) = cli(&app, Some(port), &["ballots", "issue-codes", &r.id, "--out", taken.to_str().unwrap()]);
    assert!(!success && err.contains("letters"), "{err}");
    assert_eq!(std::fs::read_to_string(taken.join("letters.html")).unwrap(), "someone else's letters");

    // Paper codes through the CLI, into a directory for the officer.
    let letters_dir = app.data_dir.path().join("letters");
    let (success, out, err) =
        cli(&app, Some(port), &["ballots", "issue-codes", &r.id, "--out", letters_dir.to_str().unwrap()]);
    assert!(success, "{err}");
    assert!(out.contains("20 paper letters") && out.contains("10 emails queued"), "{out}");
    let letters_csv = std::fs::read_to_string(letters_dir.join("letters.csv")).unwrap();
    let html = std::fs::read_to_string(letters_dir.join("letters.html")).unwrap();
    let mut paper: BTreeMap<String, String> = BTreeMap::new(); // name -> code
    for line in letters_csv.lines().skip(1) {
        let mut fields = line.splitn(3, ',');
        let (name, code) = (fields.next().unwrap().to_string(), fields.next().unwrap().to_string());
        assert!(html.contains(&code));
        paper.insert(name, code);
    }
    assert_eq!(paper.len(), 20);
    // Issuing again issues nothing more: the roll says the letters went out.
    let (_, out, _) = cli(
        &app,
        Some(port),
        &["ballots", "issue-codes", &r.id, "--out", app.data_dir.path().join("letters-again").to_str().unwrap()],
    );
    assert!(out.contains("0 paper letters") && out.contains("0 emails queued"), "{out}");

    // Emailed codes are made when the worker sends them.
    let (success, out, _) = cli(&app, Some(port), &["mail", "deliver", "--once"]);
    assert!(success && out.contains("10 sent"), "{out}");
    if common::uses_postgres() {
        // All ten in one transaction (the paper codes in another): no commit pairs a code with
        // the address whose email is marked sent next.
        assert_eq!(rows_in(&app, "(SELECT DISTINCT xmin::text FROM ballot_credentials) AS x"), 2);
    }
    let mails = sink.wait_for(10, Duration::from_secs(10));
    let mut emailed: BTreeMap<String, String> = BTreeMap::new(); // address -> code
    for m in &mails {
        let body = m.text_body().unwrap();
        let codes = codes_in(&body);
        assert_eq!(codes.len(), 1, "one code per email");
        // The email promises only what holds: nothing about what an administrator cannot see
        // while voting is open (see docs/ballot-anonymity.md).
        assert!(!body.contains("database administrator can") && !body.contains("数据库管理员都无法"), "{body}");
        assert!(body.contains("While voting is open") || body.contains("投票进行期间"), "{body}");
        emailed.insert(m.to[0].clone(), codes[0].clone());
    }
    assert_eq!(emailed.len(), 10);
    // No table holds an emailed code's body any more.
    let admin = app.admin_token();
    assert!(app
        .get("/api/v1/admin/outbox?status=sent", Some(&admin))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["notice"] == "ballot_code"));

    let (success, out, err) = cli(&app, None, &["ballots", "open", &r.id]);
    assert!(success, "{err}");
    keep_shares(&r.id, shares_in(&out));
    assert_eq!(shares_of(&r.id).len(), 1, "{out}");
    // Voting: a voter sees only the departments that apply, then casts.
    let dept_ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    let mut receipts = Vec::new();
    for (i, code) in paper.values().chain(emailed.values()).enumerate() {
        let shown = app.post(
            &format!("/api/v1/ballots/{}/code", r.id),
            None,
            &json!({"code": code.to_lowercase().replace('-', " ")}),
        );
        assert_eq!(shown.status, 200, "{}", shown.body);
        let depts: Vec<String> =
            shown.json().as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
        assert!(depts.len() == 5 || depts.len() == 6);
        let res = cast(&app, &r.id, code, &depts, i % 27);
        assert_eq!(res.status, 201, "{}", res.body);
        receipts.push(res.json()["receipt"].as_str().unwrap().to_string());
        // Spent: the same generic refusal as an unknown code.
        cast(&app, &r.id, code, &depts, 0).assert_problem(409, "ballot-code-refused");
    }
    assert_eq!(receipts.len(), 30);
    let _ = dept_ids;

    // Results are for officers until publication.
    app.get(&format!("/api/v1/ballots/{}/results", r.id), None).assert_problem(404, "not-found");
    assert_eq!(officer_post(&app, &r, "close").status, 200);
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).json();
    assert_eq!(results.as_array().unwrap().len(), 6);
    let (success, _, err) = cli(&app, None, &["ballots", "publish", &r.id]);
    assert!(success, "{err}");

    let public = app.get(&format!("/api/v1/ballots/{}/results", r.id), None).json();
    let small = &r.departments[5].1;
    for t in public.as_array().unwrap() {
        if &t["department_id"] == small {
            assert_eq!(t["suppressed"], true);
            assert!(t.get("ballots").is_none() && t.get("conduct_index").is_none());
        } else {
            assert_eq!(t["ballots"], 30);
            assert!(t["conduct_index"].as_f64().is_some());
        }
    }
    let bulletin = app.get(&format!("/api/v1/ballots/{}/bulletin", r.id), None);
    assert_eq!(bulletin.status, 200);
    let b = bulletin.json();
    assert_eq!(b["codes_issued"], 30);
    assert_eq!(b["codes_used"], 30);
    // Totals and per-question counts, never whole ballots: no answer pattern to look for.
    let totals = b["totals"].as_array().unwrap();
    assert_eq!(
        totals.iter().map(|t| t["ballots"].as_u64().unwrap()).sum::<u64>(),
        5 * 30,
        "the 4-ballot department is not listed"
    );
    assert!(b.get("ballots").is_none() && !bulletin.body.contains("\"answers\""), "no ballot is published whole");
    let counts = b["counts"].as_array().unwrap();
    assert!(counts
        .iter()
        .all(|c| c["count"].as_u64().unwrap() > 0 && c.get("question").is_some() && c.get("answer").is_some()));
    assert!(
        totals.iter().chain(counts).all(|c| c["department_id"] != small.as_str()),
        "the small department lists nothing"
    );
    let mut sorted = receipts.clone();
    sorted.sort();
    assert_eq!(b["receipts"], json!(sorted), "every voter finds their receipt");

    let path = app.data_dir.path().join("bulletin.json");
    std::fs::write(&path, &bulletin.body).unwrap();
    let (success, out, err) = cli(&app, None, &["ballots", "verify", path.to_str().unwrap()]);
    assert!(success, "{err}");
    assert!(out.contains(&format!("bulletin verifies: {} answer counts", counts.len())), "{out}");
    // One answer moved from one count to another: the recount disagrees.
    let mut tampered = b.clone();
    let n = tampered["counts"][0]["count"].as_u64().unwrap();
    tampered["counts"][0]["count"] = json!(n - 1);
    let m = tampered["counts"][1]["count"].as_u64().unwrap();
    tampered["counts"][1]["count"] = json!(m + 1);
    std::fs::write(&path, tampered.to_string()).unwrap();
    let (success, _, err) = cli(&app, None, &["ballots", "verify", path.to_str().unwrap()]);
    assert!(!success && err.contains("does NOT verify"), "{err}");
}

#[test]
fn fifty_concurrent_casts_with_one_code_make_exactly_one_ballot_and_foreign_codes_fail() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "dept", 2, 5);
    assert_eq!(
        import(&app, &r, "name,category,contact,departments\nA,enterprise_served,paper,dept-0;dept-1\n").status,
        200
    );
    let issued = officer_post(&app, &r, "issue-codes").json();
    let code = issued["letters"][0]["code"].as_str().unwrap().to_string();
    assert_eq!(officer_post(&app, &r, "open").status, 200);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let (app, r, code, ids) = (&app, &r, &code, &ids);
                s.spawn(move || cast(app, &r.id, code, ids, i).status)
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    officer_post(&app, &r, "close");
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).json();
    // One ballot set: below k, so suppressed — but the stored rows are exactly one per department.
    assert!(results.as_array().unwrap().iter().all(|t| t["suppressed"] == true));
    let count = rows_in(&app, "ballots");
    assert_eq!(count, 2);

    // A code of another round is refused like any unknown code; a mistyped one is named as such.
    let other = round(&app, "other", 1, 5);
    assert_eq!(
        import(&app, &other, "name,category,contact,departments\nB,enterprise_served,paper,other-0\n").status,
        200
    );
    let other_code =
        officer_post(&app, &other, "issue-codes").json()["letters"][0]["code"].as_str().unwrap().to_string();
    officer_post(&app, &other, "open");
    let refused = cast(&app, &r.id, &other_code, &ids, 0);
    assert_eq!(refused.status, 409);
    let foreign = app
        .post(&format!("/api/v1/ballots/{}/code", other.id), None, &json!({"code": code}))
        .assert_problem(409, "ballot-code-refused");
    let unknown = app
        .post(&format!("/api/v1/ballots/{}/code", other.id), None, &json!({"code": "0000-0000-0000-0000-0"}))
        .assert_problem(409, "ballot-code-refused");
    assert_eq!(foreign["detail"], unknown["detail"], "one generic answer");
    let mut typo = other_code.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let v = app
        .post(&format!("/api/v1/ballots/{}/code", other.id), None, &json!({"code": String::from_utf8(typo).unwrap()}))
        .assert_problem(422, "invalid-field");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("typing mistake"));
    assert!(!v.to_string().contains(&other_code[5..]), "errors never echo a code");
}

/// A request body: its content type and bytes.
type Body<'a> = (&'a str, Vec<u8>);

fn rows_in(app: &TestApp, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result::<N>(&mut *conn).unwrap().n
}

/// The columns of the vote-bearing tables: nothing that records time, order, voter or code.
#[test]
fn ballot_tables_carry_no_time_serial_or_foreign_key_column() {
    use diesel::prelude::*;
    let app = common::spawn_app();
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    #[derive(diesel::QueryableByName, Debug)]
    struct Col {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        kind: String,
    }
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let expected: [(&str, &[&str]); 4] = [
        ("ballots", &["answers", "category", "department_id", "id", "round_id"]),
        ("sealed_ballots", &["id", "round_id", "sealed"]),
        // No category, no department list: the scope is sealed under the code; the roll entry
        // only sealed to the round's revocation key (erased when the code is spent).
        ("ballot_credentials", &["code_hash", "roll_tag", "round_id", "scope", "used"]),
        ("ballot_receipts", &["receipt", "round_id"]),
    ];
    for (table, columns) in expected {
        let (cols, fks): (Vec<Col>, i64) = match &mut *conn {
            anshang::db::DbConnection::Sqlite(c) => (
                diesel::sql_query(format!("SELECT name, type AS kind FROM pragma_table_info('{table}')")).load(c).unwrap(),
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM pragma_foreign_key_list('{table}')")).get_result::<N>(c).unwrap().n,
            ),
            anshang::db::DbConnection::Pg(c) => (
                diesel::sql_query(format!("SELECT column_name::text AS name, data_type::text AS kind FROM information_schema.columns WHERE table_name = '{table}'")).load(c).unwrap(),
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM information_schema.table_constraints WHERE table_name = '{table}' AND constraint_type = 'FOREIGN KEY'")).get_result::<N>(c).unwrap().n,
            ),
        };
        let mut names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
        names.sort();
        assert_eq!(names, columns, "{table}");
        assert!(
            cols.iter().all(|c| !c.kind.to_lowercase().contains("time") && !c.kind.to_lowercase().contains("serial")),
            "{table}: {cols:?}"
        );
        assert_eq!(fks, 0, "{table} has a foreign key");
        if let anshang::db::DbConnection::Sqlite(c) = &mut *conn {
            // WITHOUT ROWID: stored in the order of the random key, not of insertion.
            let sql: Vec<Col> =
                diesel::sql_query(format!("SELECT name, sql AS kind FROM sqlite_master WHERE name = '{table}'"))
                    .load(c)
                    .unwrap();
            assert!(sql[0].kind.contains("WITHOUT ROWID"), "{table}");
        }
    }
}

fn spearman(order: &[usize]) -> f64 {
    // order[i] = cast index of the row stored at position i.
    let n = order.len() as f64;
    let d2: f64 = order.iter().enumerate().map(|(pos, &cast)| (pos as f64 - cast as f64).powi(2)).sum();
    1.0 - 6.0 * d2 / (n * (n * n - 1.0))
}

#[test]
fn stored_order_says_nothing_about_cast_order() {
    use diesel::prelude::*;
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 10_000);
    let r = round(&app, "dept", 1, 5);
    let mut csv = String::from("name,category,contact,departments\n");
    for i in 0..200 {
        csv.push_str(&format!("E{i},enterprise_served,paper,dept-0\n"));
    }
    assert_eq!(import(&app, &r, &csv).status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    officer_post(&app, &r, "open");
    let dept = vec![r.departments[0].1.clone()];
    for (i, l) in letters.iter().enumerate() {
        assert_eq!(cast(&app, &r.id, l["code"].as_str().unwrap(), &dept, i).status, 201);
    }
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    #[derive(diesel::QueryableByName)]
    struct A {
        #[diesel(sql_type = diesel::sql_types::Text)]
        answers: String,
    }
    let stored_order = |conn: &mut anshang::db::DbConnection| -> Vec<usize> {
        let sql = match conn {
            anshang::db::DbConnection::Pg(_) => "SELECT answers FROM ballots ORDER BY ctid",
            anshang::db::DbConnection::Sqlite(_) => "SELECT answers FROM ballots",
        };
        let rows: Vec<A> = diesel::sql_query(sql).load(conn).unwrap();
        rows.iter()
            .map(|a| {
                let v: Value = serde_json::from_str(&a.answers).unwrap();
                (0..200).find(|p| answers(*p) == v).expect("each ballot is distinct")
            })
            .collect()
    };
    // While voting, no ballot row exists to be ordered: each ballot is sealed.
    assert!(stored_order(&mut pool.get().unwrap()).is_empty());
    assert_eq!(officer_post(&app, &r, "close").status, 200);
    let mut conn = pool.get().unwrap();
    let after = spearman(&stored_order(&mut conn));
    assert!(after.abs() < 0.25, "rank correlation after close {after}");
    if let anshang::db::DbConnection::Pg(c) = &mut *conn {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let xmins =
            diesel::sql_query("SELECT COUNT(DISTINCT xmin::text) AS n FROM ballots").get_result::<N>(c).unwrap().n;
        assert_eq!(xmins, 1, "every ballot row was written by the transaction that opened the ballots");
        let receipt_xmins = diesel::sql_query("SELECT COUNT(DISTINCT xmin::text) AS n FROM ballot_receipts")
            .get_result::<N>(c)
            .unwrap()
            .n;
        assert_eq!(receipt_xmins, 1);
    }
}

/// A whole round against the real binary with debug logging, then a scan of the captured log
/// and of the whole database for anything that pairs a ballot with a code or a voter.
#[test]
fn neither_the_logs_nor_a_database_dump_hold_codes_or_links_to_voters() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let log_path = dir.path().join("server.log");
    let mut cmd = common::anshang_command(dir.path());
    // Port 0: the server picks a free port and prints it (no race with other tests' servers).
    cmd.args(["serve", "--port", "0"]);
    cmd.env("ANSHANG__DATABASE__URL", &db.url)
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&log_path).unwrap());
    let (child, port, printed) = common::spawn_served(cmd);
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut guard = Kill(child);
    let password = common::printed_password(&printed).expect("bootstrap password printed");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while agent.get(format!("{base}/readyz")).call().map(|r| r.status() != 200).unwrap_or(true) {
        assert!(std::time::Instant::now() < deadline, "server not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let call = |method: &str, path: &str, token: Option<&str>, body: Value| -> Value {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{base}{path}"))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut resp = agent.run(req.body(body.to_string()).unwrap()).unwrap();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        assert!(resp.status().as_u16() < 300, "{method} {path}: {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    };
    let email = anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL;
    let otp_token = call("POST", "/api/v1/auth/login", None, json!({"email": email, "password": password}))["token"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        "POST",
        "/api/v1/auth/password",
        Some(&otp_token),
        json!({"current_password": password, "new_password": common::TEST_PASSWORD}),
    );
    let admin = call("POST", "/api/v1/auth/login", None, json!({"email": email, "password": common::TEST_PASSWORD}))
        ["token"]
        .as_str()
        .unwrap()
        .to_string();
    call(
        "POST",
        "/api/v1/users",
        Some(&admin),
        json!({"email": "c@x.gov.cn", "display_name": "c", "role": "commission", "password": common::TEST_PASSWORD}),
    );
    let commission =
        call("POST", "/api/v1/auth/login", None, json!({"email": "c@x.gov.cn", "password": common::TEST_PASSWORD}))
            ["token"]
            .as_str()
            .unwrap()
            .to_string();
    let mut depts = Vec::new();
    for code in ["land", "tax"] {
        let d = call(
            "POST",
            "/api/v1/departments",
            Some(&admin),
            json!({"code": code, "name_zh": code, "name_en": code, "kind": "department", "contact_email": "a@b.cn", "head_email": "a@b.cn"}),
        );
        depts.push(d["id"].as_str().unwrap().to_string());
    }
    let now = chrono::Utc::now();
    let round = call(
        "POST",
        "/api/v1/ballots/rounds",
        Some(&commission),
        json!({
        "title": "scan", "year": 2026, "department_ids": depts, "min_group_size": 3,
        "opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(), "closes_at": (now + chrono::Duration::hours(1)).to_rfc3339()}),
    );
    let rid = round["id"].as_str().unwrap().to_string();
    let mut req = ureq::http::Request::builder()
        .method("POST")
        .uri(format!("{base}/api/v1/ballots/rounds/{rid}/voters"))
        .header("Content-Type", "text/csv")
        .header("Authorization", format!("Bearer {commission}"));
    req = req.header("X-Ignored", "1");
    let roll: String = std::iter::once("name,category,contact,departments\n".to_string())
        .chain((0..6).map(|i| format!("Voter Name {i},enterprise_served,paper,land;tax\n")))
        .collect();
    assert_eq!(agent.run(req.body(roll).unwrap()).unwrap().status(), 200);
    let issued = call("POST", &format!("/api/v1/ballots/rounds/{rid}/issue-codes"), Some(&commission), json!({}));
    let codes: Vec<String> =
        issued["letters"].as_array().unwrap().iter().map(|l| l["code"].as_str().unwrap().to_string()).collect();
    let opened = call("POST", &format!("/api/v1/ballots/rounds/{rid}/open"), Some(&commission), json!({}));
    let shares: Vec<String> =
        opened["key_shares"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    let mut receipts = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        let ratings: Vec<Value> = depts.iter().map(|d| json!({"department_id": d, "answers": answers(i)})).collect();
        receipts.push(
            call("POST", &format!("/api/v1/ballots/{rid}/cast"), None, json!({"code": code, "ratings": ratings}))
                ["receipt"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    call("POST", &format!("/api/v1/ballots/rounds/{rid}/close"), Some(&commission), json!({}));
    call("POST", &format!("/api/v1/ballots/rounds/{rid}/unseal"), Some(&commission), json!({"key_shares": shares}));
    call("POST", &format!("/api/v1/ballots/rounds/{rid}/publish"), Some(&commission), json!({}));
    drop(guard.0.kill());
    let _ = guard.0.wait();

    let secrets: Vec<String> = codes
        .iter()
        .flat_map(|c| {
            let n = anshang::ballots::codes::normalise(c).unwrap();
            vec![c.clone(), n.clone(), anshang::ballots::codes::hash(&n)]
        })
        .collect();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("/cast"), "the log was captured: {}", &log[..log.len().min(500)]);
    for s in &secrets {
        assert!(!log.contains(s.as_str()), "a code or its hash is in the log");
    }
    for s in &shares {
        assert!(!log.contains(&s[18..]), "a key share is in the log");
    }
    // The server's own listening address and the database's may appear; a client's address
    // (127.0.0.1 with an ephemeral port) never.
    let db_port = if common::uses_postgres() {
        db.url.split("127.0.0.1:").nth(1).and_then(|r| r.split('/').next()).map(str::to_string)
    } else {
        None
    };
    for (i, _) in log.match_indices("127.0.0.1:") {
        let digits: String = log[i + 10..].chars().take_while(char::is_ascii_digit).collect();
        assert!(
            digits == port.to_string() || Some(&digits) == db_port.as_ref(),
            "a client address is in the log: 127.0.0.1:{digits}"
        );
    }
    assert!(!log.contains("Voter Name"), "no voter in the log");

    // The database: no code anywhere, and no code hash or voter next to a ballot.
    let dump: String = if common::uses_postgres() {
        let out = Command::new("pg_dump").args(["--data-only", &db.url]).output().expect("pg_dump");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        let mut bytes = std::fs::read(dir.path().join("anshang.db")).unwrap();
        if let Ok(wal) = std::fs::read(dir.path().join("anshang.db-wal")) {
            bytes.extend(wal);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    };
    for c in &codes {
        let n = anshang::ballots::codes::normalise(c).unwrap();
        assert!(!dump.contains(c.as_str()) && !dump.contains(n.as_str()), "a plain code is stored");
    }
    let ballots = {
        use diesel::prelude::*;
        let url = anshang::db::DatabaseUrl::parse(&db.url, dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
        let mut conn = pool.get().unwrap();
        let rows: Vec<(String, String, String, String, String)> = anshang::db::schema::ballots::table
            .select((
                anshang::db::schema::ballots::id,
                anshang::db::schema::ballots::round_id,
                anshang::db::schema::ballots::department_id,
                anshang::db::schema::ballots::category,
                anshang::db::schema::ballots::answers,
            ))
            .load(&mut *conn)
            .unwrap();
        rows
    };
    assert_eq!(ballots.len(), 12);
    for row in &ballots {
        let text = format!("{row:?}");
        for s in &secrets {
            assert!(!text.contains(s.as_str()));
        }
        assert!(!text.contains("Voter Name") && !text.contains("2026-"), "no voter, no time in a ballot row");
        for r in &receipts {
            assert!(!text.contains(r.as_str()), "no receipt beside a ballot");
        }
    }
}

/// Every ballot endpoint × every role: officers (commission, coordination office) run rounds;
/// everyone else is refused; voting, results and the bulletin are public.
#[test]
fn authorisation_matrix_covers_every_ballot_endpoint() {
    let app = common::spawn_app();
    let r = round(&app, "dept", 1, 5);
    let admin = app.admin_token();
    let tokens: Vec<(&str, String)> = ["operator", "department", "coordinator", "commission"]
        .iter()
        .map(|role| {
            (*role, app.staff_token(&admin, role, (*role == "department").then_some(r.departments[0].1.as_str())))
        })
        .chain(std::iter::once(("admin", admin.clone())))
        .collect();
    let officers = ["coordinator", "commission"];
    let now = chrono::Utc::now();
    let create = json!({"title": "t", "year": 2026, "department_ids": [r.departments[0].1], "opens_at": now.to_rfc3339(), "closes_at": (now + chrono::Duration::hours(1)).to_rfc3339()});
    let endpoints: Vec<(&str, String, Option<Body>)> = vec![
        ("POST", "/api/v1/ballots/rounds".into(), Some(("application/json", create.to_string().into_bytes()))),
        ("GET", "/api/v1/ballots/rounds".into(), None),
        (
            "POST",
            format!("/api/v1/ballots/rounds/{}/voters", r.id),
            Some(("text/csv", b"name,category,contact,departments\n".to_vec())),
        ),
        ("POST", format!("/api/v1/ballots/rounds/{}/issue-codes", r.id), None),
        ("POST", format!("/api/v1/ballots/rounds/{}/publish", r.id), None),
        ("POST", format!("/api/v1/ballots/rounds/{}/close", r.id), None),
        ("POST", format!("/api/v1/ballots/rounds/{}/open", r.id), None),
        (
            "POST",
            format!("/api/v1/ballots/rounds/{}/unseal", r.id),
            Some(("application/json", br#"{"key_shares": []}"#.to_vec())),
        ),
        (
            "POST",
            format!("/api/v1/ballots/rounds/{}/reissue", r.id),
            Some(("application/json", br#"{"code": "0000-0000-0000-0000-0", "voter": "x"}"#.to_vec())),
        ),
    ];
    for (method, path, body) in &endpoints {
        let send = |token: Option<&str>| app.request(method, path, token, &[], body.clone());
        send(None).assert_problem(401, "unauthenticated");
        for (role, token) in &tokens {
            let res = send(Some(token));
            if path.ends_with("/open") && res.status == 200 {
                keep_shares(
                    &r.id,
                    res.json()["key_shares"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| s.as_str().unwrap().to_string())
                        .collect(),
                );
            }
            if officers.contains(role) {
                assert!(res.status != 401 && res.status != 403, "{role} refused on {method} {path}: {}", res.body);
            } else {
                res.assert_problem(403, "forbidden");
            }
        }
    }
    // Public: the round (once not a draft), code checks, casting, results and bulletin when published.
    assert_eq!(app.get(&format!("/api/v1/ballots/{}", r.id), None).status, 200);
    let check = app.post(&format!("/api/v1/ballots/{}/code", r.id), None, &json!({"code": "0000-0000-0000-0000-0"}));
    assert_eq!(check.status, 409, "{}", check.body);
    // Results before publication: officers only; others (even signed in) are refused.
    officer_post(&app, &r, "close");
    assert_eq!(app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).status, 200);
    app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&tokens[0].1)).assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/ballots/{}/results", r.id), None).assert_problem(404, "not-found");
    app.get(&format!("/api/v1/ballots/{}/bulletin", r.id), None).assert_problem(404, "not-found");
}

/// Without an SMTP relay an emailed code would sit in an .eml file beside its address: refused.
#[test]
fn emailed_codes_are_refused_up_front_without_a_mail_server_and_never_written_to_eml_files() {
    let app = common::spawn_app_with(|s| s.mail.deliver_interval_secs = 3600);
    let r = round(&app, "dept", 1, 5);
    assert_eq!(import(&app, &r, "name,category,contact,departments\nA,enterprise_served,voter@example.cn,dept-0\nP,enterprise_served,paper,dept-0\n").status, 200);
    // No SMTP relay: nothing is issued, and the officer is told why (never "emailed").
    let refused = officer_post(&app, &r, "issue-codes").assert_problem(409, "mail-not-deliverable");
    assert_eq!(refused["email_voters"], 1, "{refused}");
    assert!(refused["detail"].as_str().unwrap().contains("SMTP"), "{refused}");
    let letters_dir = app.data_dir.path().join("letters");
    let (ok, _, err) = cli(&app, None, &["ballots", "issue-codes", &r.id, "--out", letters_dir.to_str().unwrap()]);
    assert!(!ok && err.contains("SMTP"), "{err}");
    assert!(!letters_dir.join("letters.html").exists());
    assert_eq!((rows_in(&app, "ballot_credentials"), rows_in(&app, "outbox")), (0, 0));
    // Queued while a relay was configured, delivered once it is gone: the worker still makes no
    // code and writes no .eml file.
    let sink = SmtpSink::start();
    let (ok, out, err) =
        cli(&app, Some(sink.port()), &["ballots", "issue-codes", &r.id, "--out", letters_dir.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("1 paper letters") && out.contains("1 emails queued"), "{out}");
    let (ok, out, err) = cli(&app, None, &["mail", "deliver", "--once"]);
    assert!(ok, "{err}");
    assert!(out.contains("0 sent") && out.contains("1 failed"), "{out}");
    let outbox = app.data_dir.path().join("outbox");
    assert!(!outbox.exists() || std::fs::read_dir(&outbox).unwrap().count() == 0, "no .eml written");
    assert_eq!(rows_in(&app, "ballot_credentials"), 1, "the paper code only");
}

#[test]
fn code_guessing_is_rate_limited_with_one_generic_answer() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 5);
    let r = round(&app, "dept", 1, 5);
    officer_post(&app, &r, "open");
    let guess =
        |i: usize| app.post(&format!("/api/v1/ballots/{}/code", r.id), None, &json!({"code": format!("{i:016}-0")}));
    let mut limited = false;
    for i in 0..8 {
        let res = guess(i);
        match res.status {
            429 => {
                res.assert_problem(429, "rate-limited");
                limited = true;
                break;
            }
            // Malformed (check symbol) or unknown: never says which codes exist.
            422 | 409 => {}
            other => panic!("unexpected {other}: {}", res.body),
        }
    }
    assert!(limited, "guessing is limited per client");
}

#[test]
fn a_roll_imported_twice_adds_no_voter_twice() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.deliver_interval_secs = 3600;
    });
    let r = round(&app, "dup", 1, 5);
    let csv =
        "name,category,contact,departments\nA,enterprise_served,paper,dup-0\nB,enterprise_served,b@example.cn,dup-0\n";
    assert_eq!(import(&app, &r, csv).status, 200);
    // The same file again (a double click, a retry): every row is named, nothing is added.
    let again = import(&app, &r, csv);
    let body = again.assert_problem(422, "invalid-field");
    let lines: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(lines, ["line 2", "line 3"], "{body}");
    // Within one file too, and an address differing only in case is the same mailbox.
    let twice = import(&app, &r, "name,category,contact,departments\nC,enterprise_served,c@example.cn,dup-0\nC2,enterprise_served,C@Example.cn,dup-0\n");
    assert_eq!(twice.status, 422, "{}", twice.body);
    // One letter per voter.
    let issued = officer_post(&app, &r, "issue-codes").json();
    assert_eq!(issued["letters"].as_array().unwrap().len(), 1, "{issued}");
}

#[test]
fn a_round_closes_itself_at_its_closing_time_through_the_sweep_with_the_same_rewrite() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "auto", 1, 5);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    let roll: String = (0..5).map(|i| format!("V{i},enterprise_served,paper,auto-0\n")).collect();
    assert_eq!(import(&app, &r, &format!("name,category,contact,departments\n{roll}")).status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    assert_eq!(officer_post(&app, &r, "open").status, 200);
    for (i, l) in letters.iter().enumerate() {
        assert_eq!(cast(&app, &r.id, l["code"].as_str().unwrap(), &ids, i).status, 201);
    }
    let view = app.get(&format!("/api/v1/ballots/{}", r.id), None).json();
    let closes_at = chrono::DateTime::parse_from_rfc3339(view["closes_at"].as_str().unwrap()).unwrap();
    let status = || app.get(&format!("/api/v1/ballots/{}", r.id), None).json()["status"].as_str().unwrap().to_string();

    // A second before its closing time the sweep leaves it open.
    let (ok, out, err) = cli(
        &app,
        None,
        &["sweep", "--once", "--simulate", "--now", &(closes_at - chrono::Duration::seconds(1)).to_rfc3339()],
    );
    assert!(ok, "{err}");
    assert!(!out.contains(&r.id), "{out}");
    assert_eq!(status(), "open");
    // At its closing time it is closed: results for the officers, no more casting.
    let (ok, out, err) = cli(&app, None, &["sweep", "--once", "--simulate", "--now", &closes_at.to_rfc3339()]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("ballot round {} closed at its closing time", r.id)), "{out}");
    assert_eq!(status(), "closed");
    // Closed at its time, the ballots still sealed: no results until the trustees open them.
    app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).assert_problem(409, "round-sealed");
    assert_eq!(unseal(&app, &r).status, 200);
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission));
    assert_eq!(results.status, 200, "{}", results.body);
    assert_eq!(results.json()[0]["ballots"], 5);
    // Closing again is nobody's business: the next sweep finds nothing, an officer's close is refused.
    let (ok, out, _) = cli(
        &app,
        None,
        &["sweep", "--once", "--simulate", "--now", &(closes_at + chrono::Duration::hours(1)).to_rfc3339()],
    );
    assert!(ok && !out.contains(&r.id), "{out}");
    officer_post(&app, &r, "close").assert_problem(409, "illegal-transition");
    assert_eq!(officer_post(&app, &r, "publish").status, 200);
    // The automatic close is audited as such.
    let closes = {
        use anshang::db::schema::admin_events;
        use diesel::prelude::*;
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
        let mut conn = pool.get().unwrap();
        admin_events::table
            .filter(admin_events::action.eq("ballot_round.closed"))
            .select((admin_events::actor_id, admin_events::detail))
            .load::<(Option<String>, String)>(&mut *conn)
            .unwrap()
    };
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert!(closes[0].0.is_none() && closes[0].1.contains("\"at_closing_time\":true"), "{closes:?}");
}

#[test]
fn serve_closes_a_due_round_on_its_own() {
    let app = common::spawn_app_with(|s| s.escalation.sweep_interval_secs = 1);
    let r = round(&app, "self", 1, 3);
    let now = chrono::Utc::now();
    // A second round whose window ends in two seconds.
    let created = app.post(
        "/api/v1/ballots/rounds",
        Some(&r.commission),
        &json!({"title": "short", "year": 2026, "department_ids": [r.departments[0].1], "min_group_size": 3,
                "opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(), "closes_at": (now + chrono::Duration::seconds(2)).to_rfc3339()}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let short = created.json()["id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/api/v1/ballots/rounds/{short}/open"), Some(&r.commission), &json!({})).status, 200);
    assert_eq!(officer_post(&app, &r, "open").status, 200);
    let status =
        |id: &str| app.get(&format!("/api/v1/ballots/{id}"), None).json()["status"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while status(&short) != "closed" {
        assert!(std::time::Instant::now() < deadline, "the round was not closed by the background sweep");
        std::thread::sleep(Duration::from_millis(200));
    }
    // The round still within its window stays open.
    assert_eq!(status(&r.id), "open");
}

/// Every stored copy of the vote-bearing tables, as raw bytes: SQLite's database file and its
/// write-ahead log; PostgreSQL's table pages (pageinspect), live and dead row versions alike.
fn raw_storage(app: &TestApp) -> Vec<u8> {
    use diesel::prelude::*;
    if common::uses_postgres() {
        #[derive(diesel::QueryableByName)]
        struct Pages {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        #[derive(diesel::QueryableByName)]
        struct Page {
            #[diesel(sql_type = diesel::sql_types::Binary)]
            page: Vec<u8>,
        }
        let mut conn = diesel::PgConnection::establish(&app.database.url).unwrap();
        diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pageinspect").execute(&mut conn).unwrap();
        let mut out = Vec::new();
        for table in ["ballots", "ballot_receipts", "ballot_credentials"] {
            let n = diesel::sql_query(format!(
                "SELECT (pg_relation_size('{table}') / current_setting('block_size')::bigint) AS n"
            ))
            .get_result::<Pages>(&mut conn)
            .unwrap()
            .n;
            for i in 0..n {
                out.extend(
                    diesel::sql_query(format!("SELECT get_raw_page('{table}', {i}) AS page"))
                        .get_result::<Page>(&mut conn)
                        .unwrap()
                        .page,
                );
            }
        }
        out
    } else {
        let db = app.data_dir.path().join("anshang.db");
        let mut out = std::fs::read(&db).unwrap();
        let wal = app.data_dir.path().join("anshang.db-wal");
        if let Ok(bytes) = std::fs::read(&wal) {
            assert!(bytes.is_empty(), "the write-ahead log still holds {} bytes after close", bytes.len());
            out.extend(bytes);
        }
        out
    }
}

fn occurrences(haystack: &[u8], needle: &str) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle.as_bytes()).count()
}

#[test]
fn after_close_storage_holds_one_copy_of_each_ballot_code_and_receipt() {
    use diesel::prelude::*;
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "raw", 3, 5);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    let roll: String = (0..32).map(|i| format!("V{i},enterprise_served,paper,raw-0;raw-1;raw-2\n")).collect();
    assert_eq!(import(&app, &r, &format!("name,category,contact,departments\n{roll}")).status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    assert_eq!(officer_post(&app, &r, "open").status, 200);
    // 30 of 32 vote, each with an answer pattern of its own; two codes stay unspent.
    for (i, l) in letters.iter().take(30).enumerate() {
        assert_eq!(cast(&app, &r.id, l["code"].as_str().unwrap(), &ids, i * 7 + 1).status, 201);
    }
    assert_eq!(officer_post(&app, &r, "close").status, 200);

    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let (hashes, ballot_ids, receipts) = {
        use anshang::db::schema::{ballot_credentials, ballot_receipts, ballots};
        let mut conn = pool.get().unwrap();
        (
            ballot_credentials::table.select(ballot_credentials::code_hash).load::<String>(&mut *conn).unwrap(),
            ballots::table.select(ballots::id).load::<String>(&mut *conn).unwrap(),
            ballot_receipts::table.select(ballot_receipts::receipt).load::<String>(&mut *conn).unwrap(),
        )
    };
    drop(pool);
    assert_eq!((hashes.len(), ballot_ids.len(), receipts.len()), (32, 90, 30));
    let raw = raw_storage(&app);
    // One copy each: no unspent-then-spent pair of a code, no ballot or receipt as written in
    // cast order beside its rewritten copy.
    for (what, values) in [("code hash", &hashes), ("ballot id", &ballot_ids), ("receipt", &receipts)] {
        let copies: Vec<usize> = values.iter().map(|v| occurrences(&raw, v)).collect();
        assert!(copies.iter().all(|c| *c == 1), "{what}: copies in storage {copies:?}");
    }
}

#[test]
fn credentials_keep_no_category_or_departments_and_small_category_cells_are_merged() {
    use diesel::prelude::*;
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "cell", 2, 3);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    // Four enterprises dealt with both departments; one conduct monitor with cell-0 only: a
    // combination of category and departments no one else on the roll has.
    let mut roll = String::from("name,category,contact,departments\nMonitor,conduct_monitor,paper,cell-0\n");
    for i in 0..4 {
        roll.push_str(&format!("Served {i},enterprise_served,paper,cell-0;cell-1\n"));
    }
    assert_eq!(import(&app, &r, &roll).status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    assert_eq!(officer_post(&app, &r, "open").status, 200);

    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let scopes = || {
        use anshang::db::schema::ballot_credentials;
        ballot_credentials::table.select(ballot_credentials::scope).load::<String>(&mut *pool.get().unwrap()).unwrap()
    };
    let stored = scopes();
    assert_eq!(stored.len(), 5);
    for sc in &stored {
        assert!(sc.starts_with("v1:"), "{sc}");
        for word in ids.iter().map(String::as_str).chain(["conduct_monitor", "enterprise_served", "cell-0"]) {
            assert!(!sc.contains(word), "{sc} shows {word}");
        }
        assert_eq!(sc.len(), stored[0].len(), "every scope looks alike");
    }

    // The code still knows its departments: the monitor's rates cell-0 only.
    let monitor = letters.iter().find(|l| l["name"] == "Monitor").unwrap()["code"].as_str().unwrap().to_string();
    let applies = app.post(&format!("/api/v1/ballots/{}/code", r.id), None, &json!({"code": monitor}));
    assert_eq!(applies.status, 200, "{}", applies.body);
    assert_eq!(applies.body.matches("\"id\"").count(), 1, "{}", applies.body);
    assert!(applies.body.contains(&ids[0]), "{}", applies.body);
    assert_eq!(cast(&app, &r.id, &monitor, &ids, 0).status, 422, "a department outside the code's scope is refused");
    assert_eq!(cast(&app, &r.id, &monitor, &ids[..1], 0).status, 201);
    for l in letters.iter().filter(|l| l["name"] != "Monitor") {
        assert_eq!(cast(&app, &r.id, l["code"].as_str().unwrap(), &ids, 0).status, 201);
    }
    // The monitor's ballot carries no category from the start (a cell of one on the roll).
    let categories = || {
        use anshang::db::schema::ballots;
        let mut c: Vec<(String, String)> =
            ballots::table.select((ballots::department_id, ballots::category)).load(&mut *pool.get().unwrap()).unwrap();
        c.sort();
        c
    };
    assert!(categories().iter().all(|(_, c)| c != "conduct_monitor"), "{:?}", categories());
    assert_eq!(officer_post(&app, &r, "close").status, 200);
    // After close: cell-0 has 4 served + 1 uncategorised, cell-1 4 served.
    let after = categories();
    assert_eq!(after.iter().filter(|(d, c)| d == &ids[0] && c.is_empty()).count(), 1, "{after:?}");
    assert_eq!(after.iter().filter(|(_, c)| c == "enterprise_served").count(), 8, "{after:?}");
    // Spent scopes stay sealed.
    assert!(scopes().iter().all(|sc| sc.starts_with("v1:") && !sc.contains(&ids[0])));
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).json();
    let cell0 = results.as_array().unwrap().iter().find(|t| t["department_id"] == ids[0].as_str()).unwrap();
    assert_eq!(cell0["ballots"], 5, "{results}");
    assert!(cell0["by_category"].is_null(), "a merged ballot hides the breakdown: {results}");
}

#[test]
fn a_voter_left_out_can_be_added_and_vote_after_opening() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "late", 1, 3);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    assert_eq!(import(&app, &r, "name,category,contact,departments\nA,enterprise_served,paper,late-0\nB,enterprise_served,paper,late-0\nC,enterprise_served,paper,late-0\n").status, 200);
    let first = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    assert_eq!(officer_post(&app, &r, "open").status, 200);
    for l in &first {
        assert_eq!(cast(&app, &r.id, l["code"].as_str().unwrap(), &ids, 0).status, 201);
    }
    // Forgotten at first: added while voting is open, then issued a code of their own only.
    assert_eq!(import(&app, &r, "name,category,contact,departments\nD,enterprise_served,paper,late-0\n").status, 200);
    import(&app, &r, "name,category,contact,departments\nA,enterprise_served,paper,late-0\n")
        .assert_problem(422, "invalid-field");
    let late = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0]["name"], "D");
    let applies = app.post(&format!("/api/v1/ballots/{}/code", r.id), None, &json!({"code": late[0]["code"]}));
    assert_eq!(applies.status, 200, "{}", applies.body);
    assert_eq!(cast(&app, &r.id, late[0]["code"].as_str().unwrap(), &ids, 1).status, 201);
    assert_eq!(officer_post(&app, &r, "close").status, 200);
    // After close the roll is fixed.
    import(&app, &r, "name,category,contact,departments\nE,enterprise_served,paper,late-0\n")
        .assert_problem(409, "conflict");
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).json();
    assert_eq!(results[0]["ballots"], 4, "{results}");
}

/// Every byte the server keeps of its data: SQLite's database file and write-ahead log (as they
/// are, log not emptied), or a PostgreSQL dump of the whole database.
fn everything_kept(app: &TestApp) -> Vec<u8> {
    if common::uses_postgres() {
        let out = Command::new("pg_dump").arg(&app.database.url).output().expect("pg_dump");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    } else {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(app.data_dir.path()).unwrap().flatten() {
            if entry.path().is_file() {
                out.extend(std::fs::read(entry.path()).unwrap());
            }
        }
        out
    }
}

#[test]
fn ballots_are_sealed_at_cast_and_only_the_trustees_shares_open_them() {
    use diesel::prelude::*;
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "seal", 3, 5);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    // A second round with three trustees, any two of whom open the ballots.
    let now = chrono::Utc::now();
    let created = app.post(
        "/api/v1/ballots/rounds",
        Some(&r.commission),
        &json!({"title": "sealed", "year": 2026, "department_ids": ids, "min_group_size": 5, "trustees": 3, "threshold": 2,
                "opens_at": (now - chrono::Duration::minutes(1)).to_rfc3339(), "closes_at": (now + chrono::Duration::hours(1)).to_rfc3339()}),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let r = Round {
        id: created["id"].as_str().unwrap().to_string(),
        departments: r.departments,
        commission: r.commission,
        revocation_key: created["revocation_key"].as_str().unwrap().to_string(),
    };
    let roll: String = (0..32).map(|i| format!("V{i},enterprise_served,paper,seal-0;seal-1;seal-2\n")).collect();
    assert_eq!(import(&app, &r, &format!("name,category,contact,departments\n{roll}")).status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    let opened = app.post(&format!("/api/v1/ballots/rounds/{}/open", r.id), Some(&r.commission), &json!({}));
    assert_eq!(opened.status, 200, "{}", opened.body);
    let shares: Vec<String> =
        opened.json()["key_shares"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert_eq!((shares.len(), opened.json()["sealed"].clone()), (3, json!(true)));

    let pg_lsn = |q: &str| -> String {
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let mut conn = diesel::PgConnection::establish(&app.database.url).unwrap();
        diesel::sql_query(q).get_result::<T>(&mut conn).unwrap().t
    };
    let start = common::uses_postgres().then(|| pg_lsn("SELECT pg_current_wal_lsn()::text AS t"));
    // 30 voters, each with an answer pattern of its own.
    for (i, l) in letters.iter().take(30).enumerate() {
        assert_eq!(cast(&app, &r.id, l["code"].as_str().unwrap(), &ids, i * 7 + 1).status, 201);
    }
    // During voting nothing stored holds a ballot in the clear, nor the round's private key.
    assert_eq!(rows_in(&app, "ballots"), 0);
    assert_eq!(rows_in(&app, "sealed_ballots"), 30);
    let kept = everything_kept(&app);
    assert_eq!(occurrences(&kept, "\"attitude\":\""), 0, "a ballot's answers are stored in the clear");
    assert_eq!(occurrences(&kept, "AGE-SECRET-KEY"), 0);
    for s in &shares {
        assert_eq!(occurrences(&kept, &s[18..50]), 0, "a key share is stored");
    }
    if let Some(start) = start {
        // PostgreSQL's write-ahead log of the voting: records for the sealed ballots, none for
        // the ballots table — no plaintext ballot was ever written beside a spent credential.
        let end = pg_lsn("SELECT pg_current_wal_lsn()::text AS t");
        let rel = |table: &str| {
            pg_lsn(&format!("SELECT format('/%s/%s ', (SELECT oid FROM pg_database WHERE datname = current_database()), pg_relation_filenode('{table}')) AS t"))
        };
        let count = |needle: &str| {
            pg_lsn(&format!(
            "SELECT count(*)::text AS t FROM (SELECT 1 FROM pg_get_wal_records_info('{start}', '{end}') WHERE block_ref LIKE '%{needle}%') AS w"
        ))
        };
        let mut conn = diesel::PgConnection::establish(&app.database.url).unwrap();
        diesel::sql_query("CREATE EXTENSION IF NOT EXISTS pg_walinspect").execute(&mut conn).unwrap();
        assert!(count(&rel("sealed_ballots")).parse::<u64>().unwrap() >= 30, "the query sees the sealed ballots");
        assert_eq!(count(&rel("ballots")), "0", "a ballot row was written while voting was open");
    }

    // Closed: still sealed; no results. One share is not enough and changes nothing.
    assert_eq!(
        app.post(&format!("/api/v1/ballots/rounds/{}/close", r.id), Some(&r.commission), &json!({})).status,
        200
    );
    app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).assert_problem(409, "round-sealed");
    app.post(&format!("/api/v1/ballots/rounds/{}/publish", r.id), Some(&r.commission), &json!({}))
        .assert_problem(409, "round-sealed");
    let unseal_with = |s: &[String]| {
        app.post(&format!("/api/v1/ballots/rounds/{}/unseal", r.id), Some(&r.commission), &json!({"key_shares": s}))
    };
    let refused = unseal_with(&shares[..1]).assert_problem(422, "invalid-field");
    assert!(!refused.to_string().contains(&shares[0][18..]), "errors never echo a share");
    assert_eq!(rows_in(&app, "sealed_ballots"), 30);
    // Any two of the three trustees.
    let opened = unseal_with(&[shares[2].clone(), shares[0].clone()]);
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(opened.json()["sealed"], false);
    assert_eq!((rows_in(&app, "sealed_ballots"), rows_in(&app, "ballots")), (0, 90));
    unseal_with(&shares[..2]).assert_problem(409, "conflict");
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).json();
    assert!(results.as_array().unwrap().iter().all(|t| t["ballots"] == 30), "{results}");
    // Afterwards the server keeps neither the key nor its public half: nothing can open the
    // sealed copies that remain in old logs or backups.
    let recipient = {
        use anshang::db::schema::ballot_rounds;
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
        let mut conn = pool.get().unwrap();
        ballot_rounds::table
            .find(&r.id)
            .select(ballot_rounds::seal_recipient)
            .first::<Option<String>>(&mut *conn)
            .unwrap()
    };
    assert_eq!(recipient, None);
    let kept = everything_kept(&app);
    assert!(occurrences(&kept, "\"attitude\":\"") >= 90, "the scan finds opened ballots");
    assert_eq!(occurrences(&kept, "AGE-SECRET-KEY"), 0);
    // The only public key left is the revocation key of the first round made here, still a draft.
    assert_eq!(rows_in(&app, &format!("ballot_rounds WHERE revocation_recipient IS NOT NULL AND id <> '{}'", r.id)), 1);
    assert_eq!(occurrences(&kept, "age1"), 1, "the round's public keys are forgotten");
    for s in &shares {
        assert_eq!(occurrences(&kept, &s[18..50]), 0);
    }
    assert_eq!(
        app.post(&format!("/api/v1/ballots/rounds/{}/publish", r.id), Some(&r.commission), &json!({})).status,
        200
    );
}

#[test]
fn the_cli_opens_a_round_prints_its_key_shares_and_trustees_unseal_through_standard_input() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "cli", 1, 3);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    assert_eq!(import(&app, &r, "name,category,contact,departments\nA,enterprise_served,paper,cli-0\nB,enterprise_served,paper,cli-0\nC,enterprise_served,paper,cli-0\n").status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    let (ok, out, err) = cli(&app, None, &["ballots", "open", &r.id]);
    assert!(ok, "{err}");
    let shares = shares_in(&out);
    assert_eq!(shares.len(), 1, "{out}");
    for (i, l) in letters.iter().enumerate() {
        assert_eq!(cast(&app, &r.id, l["code"].as_str().unwrap(), &ids, i).status, 201);
    }
    let (ok, _, err) = cli(&app, None, &["ballots", "close", &r.id]);
    assert!(ok, "{err}");
    let unseal_cli = |input: &str| {
        use std::io::Write;
        let mut cmd = common::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        cmd.args(["ballots", "unseal", &r.id])
            .env("ANSHANG__DATABASE__URL", &app.database.url)
            .env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path());
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = unseal_cli("ANSHANG-KEY-SHARE-00\n");
    assert!(!ok && !err.is_empty(), "a wrong share is refused");
    assert_eq!(rows_in(&app, "sealed_ballots"), 3);
    let (ok, out, err) = unseal_cli(&format!("\n{}\n", shares[0]));
    assert!(ok, "{err}");
    assert!(out.contains("ballots opened"), "{out}");
    assert!(!out.contains(&shares[0][18..]) && !err.contains(&shares[0][18..]));
    assert_eq!((rows_in(&app, "sealed_ballots"), rows_in(&app, "ballots")), (0, 3));
}

#[test]
fn an_unspent_code_can_be_revoked_and_its_voter_issued_a_new_one() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "re", 2, 3);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    assert_eq!(import(&app, &r, "name,category,contact,departments\nAnna,enterprise_served,paper,re-0;re-1\nBo,enterprise_served,paper,re-0;re-1\nCai,conduct_monitor,paper,re-0\n").status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    assert_eq!(officer_post(&app, &r, "open").status, 200);
    let code_of =
        |name: &str| letters.iter().find(|l| l["name"] == name).unwrap()["code"].as_str().unwrap().to_string();
    let reissue = |code: &str, voter: &str| {
        app.post(
            &format!("/api/v1/ballots/rounds/{}/reissue", r.id),
            Some(&r.commission),
            &json!({"code": code, "voter": voter}),
        )
    };
    // Anna's letter came back damaged: her code, but named as someone else's, is refused.
    reissue(&code_of("Anna"), "Cai").assert_problem(422, "invalid-field");
    // Named as hers: revoked, and a new letter for Anna only.
    let again = reissue(&code_of("Anna"), "anna");
    assert_eq!(again.status, 200, "{}", again.body);
    let new_letters = again.json()["letters"].as_array().unwrap().clone();
    assert_eq!(new_letters.len(), 1, "{new_letters:?}");
    assert_eq!(new_letters[0]["name"], "Anna");
    let new_code = new_letters[0]["code"].as_str().unwrap().to_string();
    assert_ne!(new_code, code_of("Anna"));
    // The old code is refused like any unknown code; the new one votes; a spent code cannot be replaced.
    cast(&app, &r.id, &code_of("Anna"), &ids, 0).assert_problem(409, "ballot-code-refused");
    assert_eq!(cast(&app, &r.id, &new_code, &ids, 0).status, 201);
    reissue(&new_code, "Anna").assert_problem(409, "ballot-code-refused");
    assert_eq!(cast(&app, &r.id, &code_of("Bo"), &ids, 1).status, 201);
    assert_eq!(cast(&app, &r.id, &code_of("Cai"), &ids[..1], 2).status, 201);
    assert_eq!(rows_in(&app, "ballot_credentials"), 3);
    assert_eq!(officer_post(&app, &r, "close").status, 200);
    reissue(&code_of("Bo"), "Bo").assert_problem(409, "conflict");
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).json();
    let first = results.as_array().unwrap().iter().find(|t| t["department_id"] == ids[0].as_str()).unwrap();
    assert_eq!(first["ballots"], 3, "{results}");
}

#[test]
fn a_lost_code_is_found_with_the_revocation_key_and_its_voter_issued_a_new_one() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.deliver_interval_secs = 3600;
        s.ballots.attempts_per_client_per_minute = 1000;
    });
    let r = round(&app, "lost", 1, 3);
    let ids: Vec<String> = r.departments.iter().map(|d| d.1.clone()).collect();
    let roll = "name,category,contact,departments\nAnna,enterprise_served,paper,lost-0\nBo,enterprise_served,paper,lost-0\nCai,enterprise_served,paper,lost-0\nDee,enterprise_served,dee@example.cn,lost-0\n";
    assert_eq!(import(&app, &r, roll).status, 200);
    let letters = officer_post(&app, &r, "issue-codes").json()["letters"].as_array().unwrap().clone();
    assert_eq!(officer_post(&app, &r, "open").status, 200);
    let (ok, _, err) = cli(&app, Some(port), &["mail", "deliver", "--once"]);
    assert!(ok, "{err}");
    let dee_code = codes_in(&sink.wait_for(1, Duration::from_secs(10))[0].text_body().unwrap())[0].clone();
    let code_of =
        |name: &str| letters.iter().find(|l| l["name"] == name).unwrap()["code"].as_str().unwrap().to_string();
    // Every code carries a roll tag; nothing stored names the voter in the clear.
    assert_eq!(rows_in(&app, "ballot_credentials WHERE roll_tag IS NOT NULL"), 4);
    let reissue =
        |body: Value| app.post(&format!("/api/v1/ballots/rounds/{}/reissue", r.id), Some(&r.commission), &body);

    // Bo votes; then Anna and Dee lose their codes.
    assert_eq!(cast(&app, &r.id, &code_of("Bo"), &ids, 1).status, 201);
    assert_eq!(rows_in(&app, "ballot_credentials WHERE roll_tag IS NOT NULL"), 3, "the tag goes as the code is spent");
    // Neither or both of code and key, a wrong key, another round's key, an unknown voter: refused, nothing changes.
    reissue(json!({"voter": "Anna"})).assert_problem(422, "invalid-field");
    reissue(json!({"voter": "Anna", "code": code_of("Anna"), "revocation_key": r.revocation_key}))
        .assert_problem(422, "invalid-field");
    let wrong =
        reissue(json!({"voter": "Anna", "revocation_key": "AGE-SECRET-KEY-1QQQ"})).assert_problem(422, "invalid-field");
    assert_eq!(wrong["errors"][0]["field"], "revocation_key", "{wrong}");
    let other = round(&app, "lost-other", 1, 3);
    let foreign =
        reissue(json!({"voter": "Anna", "revocation_key": other.revocation_key})).assert_problem(422, "invalid-field");
    assert!(foreign["errors"][0]["message"].as_str().unwrap().contains("another round"), "{foreign}");
    assert!(!foreign.to_string().contains(&other.revocation_key[15..]), "errors never echo a key");
    reissue(json!({"voter": "Nobody", "revocation_key": r.revocation_key})).assert_problem(422, "invalid-field");
    // Bo has voted: there is no unspent code of his to replace, so no second vote.
    reissue(json!({"voter": "Bo", "revocation_key": r.revocation_key})).assert_problem(409, "no-unspent-code");

    // Anna's lost paper code: found with the key, cancelled, and a new letter for her only.
    let again = reissue(json!({"voter": "anna", "revocation_key": r.revocation_key}));
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.header("cache-control"), Some("no-store"));
    let new_letters = again.json()["letters"].as_array().unwrap().clone();
    assert_eq!(new_letters.len(), 1, "{new_letters:?}");
    assert_eq!(new_letters[0]["name"], "Anna");
    let anna_new = new_letters[0]["code"].as_str().unwrap().to_string();
    cast(&app, &r.id, &code_of("Anna"), &ids, 0).assert_problem(409, "ballot-code-refused");
    assert_eq!(cast(&app, &r.id, &anna_new, &ids, 0).status, 201);
    reissue(json!({"voter": "Anna", "revocation_key": r.revocation_key})).assert_problem(409, "no-unspent-code");

    // Dee's lost emailed code: a new email, with a new code; the old one stops working.
    let emailed = reissue(json!({"voter": "DEE@example.cn", "revocation_key": r.revocation_key}));
    assert_eq!(emailed.status, 200, "{}", emailed.body);
    assert_eq!(emailed.json()["emailed"], 1, "{}", emailed.body);
    let (ok, _, err) = cli(&app, Some(port), &["mail", "deliver", "--once"]);
    assert!(ok, "{err}");
    let mails = sink.wait_for(2, Duration::from_secs(10));
    let dee_new = codes_in(&mails[1].text_body().unwrap())[0].clone();
    assert_ne!(dee_new, dee_code);
    cast(&app, &r.id, &dee_code, &ids, 2).assert_problem(409, "ballot-code-refused");
    assert_eq!(cast(&app, &r.id, &dee_new, &ids, 2).status, 201);

    // The replacement is in the trail, without the voter, the code or the key.
    assert_eq!(rows_in(&app, "admin_events WHERE action = 'ballot_round.reissue' AND detail LIKE '%lost%'"), 2);
    assert_eq!(
        rows_in(&app, "admin_events WHERE detail LIKE '%Anna%' OR detail LIKE '%dee@%' OR detail LIKE '%AGE-SECRET%'"),
        0
    );
    // At close the tags and the key's public half go: nothing is left for the key to open.
    assert_eq!(officer_post(&app, &r, "close").status, 200);
    assert_eq!(rows_in(&app, "ballot_credentials WHERE roll_tag IS NOT NULL"), 0);
    assert_eq!(rows_in(&app, "ballot_rounds WHERE revocation_recipient IS NOT NULL AND status <> 'draft'"), 0);
    reissue(json!({"voter": "Cai", "revocation_key": r.revocation_key})).assert_problem(409, "conflict");
    let round_view = app.get("/api/v1/ballots/rounds", Some(&r.commission)).json();
    let shown = round_view.as_array().unwrap().iter().find(|v| v["id"] == r.id.as_str()).unwrap().clone();
    assert_eq!(shown["replaces_lost_codes"], false, "{shown}");
    assert!(shown.get("revocation_key").is_none(), "the key is never shown again: {shown}");
    let results = app.get(&format!("/api/v1/ballots/{}/results", r.id), Some(&r.commission)).json();
    assert_eq!(results[0]["ballots"], 3, "{results}");
}

/// The revocation key's private half is in no table, log or file the server keeps.
#[test]
fn the_revocation_key_is_never_stored() {
    let app = common::spawn_app_with(|s| s.ballots.attempts_per_client_per_minute = 1000);
    let r = round(&app, "keep", 1, 3);
    assert_eq!(import(&app, &r, "name,category,contact,departments\nA,enterprise_served,paper,keep-0\n").status, 200);
    assert_eq!(officer_post(&app, &r, "issue-codes").status, 200);
    let kept = everything_kept(&app);
    let secret = r.revocation_key.trim_start_matches("AGE-SECRET-KEY-");
    assert!(r.revocation_key.starts_with("AGE-SECRET-KEY-1"), "{}", r.revocation_key);
    assert_eq!(occurrences(&kept, secret), 0);
    assert_eq!(occurrences(&kept, &secret.to_lowercase()), 0);
    let mut found_in_files = Vec::new();
    for entry in walk(app.data_dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if occurrences(&bytes, secret) > 0 || occurrences(&bytes, &secret.to_lowercase()) > 0 {
            found_in_files.push(entry);
        }
    }
    assert!(found_in_files.is_empty(), "{found_in_files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Each voter reads their letter and their code email in the language the roll gives for them
/// (zh when it says nothing), with the voting address and the deadline in Beijing time.
#[test]
fn letters_and_code_emails_speak_each_voters_language_with_the_address_and_the_beijing_deadline() {
    let sink = SmtpSink::start();
    let port = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
        s.mail.deliver_interval_secs = 3600;
    });
    let r = round(&app, "lang", 1, 3);
    // A language no one here writes in is named on its line; nothing is imported.
    let refused =
        import(&app, &r, "name,category,contact,departments,language\nAnna,enterprise_served,paper,lang-0,fr\n")
            .assert_problem(422, "invalid-field");
    assert_eq!(refused["errors"][0]["field"], "line 2", "{refused}");
    assert!(refused["errors"][0]["message"].as_str().unwrap().contains("language"), "{refused}");
    assert_eq!(rows_in(&app, "ballot_voters"), 0);

    let roll = "name,category,contact,departments,language\n\
        Anna,enterprise_served,paper,lang-0,en\n\
        张三,enterprise_served,paper,lang-0,\n\
        Eve,enterprise_served,eve@example.cn,lang-0,en\n\
        陳大文,enterprise_served,chan@example.hk,lang-0,ZH-hant\n\
        李四,enterprise_served,li@example.cn,lang-0,zh\n";
    assert_eq!(import(&app, &r, roll).status, 200);
    // A roll without the column still reads: everyone on it reads zh.
    assert_eq!(import(&app, &r, "name,category,contact,departments\n王五,conduct_monitor,paper,lang-0\n").status, 200);

    let issued = officer_post(&app, &r, "issue-codes").json();
    let rounds = app.get("/api/v1/ballots/rounds", Some(&r.commission)).json();
    let view = rounds.as_array().unwrap().iter().find(|v| v["id"] == r.id.as_str()).unwrap().clone();
    let closes_beijing = chrono::DateTime::parse_from_rfc3339(view["closes_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m-%d %H:%M")
        .to_string();
    let letters = issued["letters"].as_array().unwrap();
    let language_of = |name: &str| letters.iter().find(|l| l["name"] == name).unwrap()["language"].clone();
    assert_eq!(
        (language_of("Anna"), language_of("张三"), language_of("王五")),
        (json!("en"), json!("zh"), json!("zh"))
    );
    for l in letters {
        assert!(l["vote_link"].as_str().unwrap().ends_with(&format!("/vote?round={}", r.id)), "{l}");
        assert_eq!(l["closes_at"], closes_beijing.as_str(), "{l}");
    }

    let (ok, _, err) = cli(&app, Some(port), &["mail", "deliver", "--once"]);
    assert!(ok, "{err}");
    let mails = sink.wait_for(3, Duration::from_secs(10));
    let mail_to =
        |address: &str| mails.iter().find(|m| m.to == [address]).unwrap_or_else(|| panic!("no mail to {address}"));
    let eve = mail_to("eve@example.cn");
    let eve_text = eve.text_body().unwrap();
    assert!(eve.subject().unwrap().starts_with("Your conduct ballot code"), "{eve_text}");
    assert!(eve_text.contains(&format!("Voting closes: {closes_beijing} Beijing time")), "{eve_text}");
    assert!(eve_text.contains(&format!("/vote?round={}", r.id)) && !eve_text.contains("投票"), "{eve_text}");
    let chan = mail_to("chan@example.hk").text_body().unwrap();
    assert!(chan.contains(&format!("投票截止：北京時間{closes_beijing}")) && chan.contains("投票網址"), "{chan}");
    let li = mail_to("li@example.cn").text_body().unwrap();
    assert!(li.contains(&format!("投票截止：北京时间{closes_beijing}")) && !li.contains("Vote at"), "{li}");
}
