//! Load and cost benchmarks, each against a baseline measured in the same run:
//!   1. filing over HTTP vs the raw database doing the same 5-row transaction;
//!   2. tracking-page and department-inbox reads vs an actix hello-world on the same machine;
//!   3. p50/p99 latency at a fixed offered load, and resident memory idle and under load;
//!   4. ballot tally over 10k/100k/1M rows, assessment over 1k/10k/100k complaints (100 departments).
//!
//!   cargo bench --bench load                                   # SQLite
//!   ANSHANG_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench load
//!
//! (Under `cargo test`/nextest the binary is only listed, never run.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anshang::app::Application;
use anshang::config::{Settings, SettingsSource};
use anshang::db::{self, DbConnection};
use diesel::prelude::*;
use serde_json::{json, Value};

const THREADS: usize = 8;
const SECONDS: u64 = 5;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let pg = std::env::var("ANSHANG_BENCH_PG_URL").ok().filter(|u| !u.is_empty());
    println!(
        "backend: {}; {THREADS} client threads, {SECONDS} s per measurement; machine: {} cores",
        if pg.is_some() { "postgres" } else { "sqlite" },
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    let dir = tempfile::tempdir().unwrap();
    let (url, _guard) = match &pg {
        Some(admin) => fresh_pg(admin),
        None => (format!("sqlite://{}", dir.path().join("bench.db").display()), None),
    };
    let mut settings = Settings::load(&SettingsSource { env: Some(vec![]), ..Default::default() }).unwrap();
    settings.server.data_dir = dir.path().to_path_buf();
    settings.server.port = 0;
    settings.database.url = url.clone();
    settings.database.pool_size = 16;
    settings.log.level = "error".into();
    settings.complaints.filings_per_client_per_hour = u32::MAX / 2;
    settings.complaints.tracking_lookups_per_client_per_minute = u32::MAX / 2;
    settings.escalation.sweep_interval_secs = 3600;
    settings.mail.deliver_interval_secs = 3600;
    let (port, password) = serve(settings.clone());
    let base = format!("http://127.0.0.1:{port}");
    let rss_idle = rss_kib();

    // 1. Filing over HTTP vs the raw 5-row transaction.
    let body = complaint_body();
    let (http_rate, http_lat) = closed_loop(SECONDS, || post(&base, "/api/v1/complaints", None, &body).0 == 201);
    let raw_rate = raw_filing_rate(&settings, SECONDS);
    println!("\n## filing (3+ rows per transaction)\n| path | per second | p50 ms | p99 ms |\n|---|---|---|---|");
    println!("| raw database, same rows | {raw_rate:.0} | | |");
    println!("| POST /api/v1/complaints | {http_rate:.0} | {:.2} | {:.2} |", pct(&http_lat, 50), pct(&http_lat, 99));
    println!("ratio HTTP / raw: {:.2}", http_rate / raw_rate);

    // 2. Reads vs hello-world.
    let (token, number, code, staff) = fixtures(&base, &password);
    let hello = hello_world();
    let (hello_rate, _) = closed_loop(SECONDS, || get(&format!("http://127.0.0.1:{hello}"), "/", None, &[]) == 200);
    let (track_rate, track_lat) = closed_loop(SECONDS, || {
        get(&base, &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", &code)]) == 200
    });
    let (inbox_rate, inbox_lat) =
        closed_loop(SECONDS, || get(&base, "/api/v1/complaints?limit=50", Some(&staff), &[]) == 200);
    let rss_load = rss_kib();
    println!("\n## reads\n| endpoint | per second | ratio to hello-world | p50 ms | p99 ms |\n|---|---|---|---|---|");
    println!("| actix hello-world | {hello_rate:.0} | 1.00 | | |");
    println!(
        "| GET /api/v1/track/{{number}} | {track_rate:.0} | {:.2} | {:.2} | {:.2} |",
        track_rate / hello_rate,
        pct(&track_lat, 50),
        pct(&track_lat, 99)
    );
    println!(
        "| GET /api/v1/complaints (inbox, 50) | {inbox_rate:.0} | {:.2} | {:.2} | {:.2} |",
        inbox_rate / hello_rate,
        pct(&inbox_lat, 50),
        pct(&inbox_lat, 99)
    );
    let _ = token;

    // 3. Fixed offered load on the tracking page.
    let offered = (track_rate * 0.5).clamp(10.0, 2000.0);
    let lat = open_loop(offered, SECONDS, || {
        get(&base, &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", &code)]) == 200
    });
    println!("\n## latency at a fixed offered load (tracking page, {offered:.0} req/s = half its capacity)\np50 {:.2} ms, p99 {:.2} ms over {} requests", pct(&lat, 50), pct(&lat, 99), lat.len());
    println!(
        "\n## memory (resident, whole process: server + load threads)\nidle {} MiB, under load {} MiB",
        rss_idle / 1024,
        rss_load / 1024
    );

    // 4. Tally and assessment as data grows.
    println!("\n## ballot tally\n| ballot rows | ms | ratio to the 10k run |\n|---|---|---|");
    let mut first = None;
    for n in [10_000usize, 100_000, 1_000_000] {
        let ms = tally_ms(&settings, n);
        let base_ms = *first.get_or_insert(ms);
        println!("| {n} | {ms:.0} | {:.1} |", ms / base_ms);
    }
    println!("\n## assessment (100 departments)\n| complaints | ms | ratio to the 1k run |\n|---|---|---|");
    let mut first = None;
    for n in [1_000usize, 10_000, 100_000] {
        let ms = assessment_ms(&settings, n);
        let base_ms = *first.get_or_insert(ms);
        println!("| {n} | {ms:.0} | {:.1} |", ms / base_ms);
    }
}

fn serve(settings: Settings) -> (u16, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).unwrap();
            tx.send((app.port(), app.bootstrap_password.clone().unwrap())).unwrap();
            app.run().await.unwrap();
        })
    });
    rx.recv().unwrap()
}

fn hello_world() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(|| {
                actix_web::App::new().route("/", actix_web::web::get().to(|| async { "hello" }))
            })
            .bind("127.0.0.1:0")
            .unwrap();
            tx.send(server.addrs()[0].port()).unwrap();
            server.run().await.unwrap();
        })
    });
    rx.recv().unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

thread_local! {
    static AGENT: ureq::Agent = agent();
}

fn post(base: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    AGENT.with(|a| {
        let mut req = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{base}{path}"))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut r = a.run(req.body(body.to_string()).unwrap()).unwrap();
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    })
}

fn get(base: &str, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> u16 {
    AGENT.with(|a| {
        let mut req = ureq::http::Request::builder().method("GET").uri(format!("{base}{path}"));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut r = a.run(req.body(()).unwrap()).unwrap();
        let _ = r.body_mut().read_to_vec();
        r.status().as_u16()
    })
}

/// THREADS clients as fast as they can for `secs`: (requests per second, latencies in ms).
fn closed_loop(secs: u64, call: impl Fn() -> bool + Sync) -> (f64, Vec<f64>) {
    let stop = AtomicBool::new(false);
    let failures = AtomicUsize::new(0);
    let started = Instant::now();
    let lats: Vec<f64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    let mut v = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        if !call() {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                        v.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    v
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(failures.load(Ordering::Relaxed), 0, "requests failed under load");
    (lats.len() as f64 / started.elapsed().as_secs_f64(), lats)
}

/// Requests at a fixed rate (spread over THREADS), latencies in ms.
fn open_loop(rate: f64, secs: u64, call: impl Fn() -> bool + Sync) -> Vec<f64> {
    let interval = Duration::from_secs_f64(THREADS as f64 / rate);
    let end = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|i| {
                let call = &call;
                s.spawn(move || {
                    let mut next = Instant::now() + interval.mul_f64(i as f64 / THREADS as f64);
                    let mut v = Vec::new();
                    while next < end {
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        let t = Instant::now();
                        assert!(call());
                        v.push(t.elapsed().as_secs_f64() * 1000.0);
                        next += interval;
                    }
                    v
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

fn pct(v: &[f64], p: usize) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s.get((s.len() * p / 100).min(s.len().saturating_sub(1))).copied().unwrap_or(0.0)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn complaint_body() -> Value {
    json!({
        "complainant": {"type": "foreign_investor", "name": "Bench", "company": "Bench GmbH", "nationality": "DE", "email": "bench@example.de", "phone": "+49 30 1234567", "language": "en"},
        "project": "P", "matter_type": "administrative_act", "subject": "S", "facts": "F", "request": "R",
        "review_or_lawsuit": false, "confidential": false
    })
}

/// The rows a filing writes (counter, complaint, clock, audit event, outbox), in one
/// transaction per filing, THREADS connections in parallel — without HTTP, validation,
/// templates or hashing.
fn raw_filing_rate(settings: &Settings, secs: u64) -> f64 {
    let pool = anshang::state::open_database(settings).unwrap();
    let counter = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                let mut conn = pool.get().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    raw_filing(&mut conn, n);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    counter.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn raw_filing(conn: &mut DbConnection, n: usize) {
    let (t, f) = match conn {
        DbConnection::Pg(_) => ("CAST('2026-11-25 02:00:00' AS TIMESTAMP)", "FALSE"),
        DbConnection::Sqlite(_) => ("'2026-11-25 02:00:00'", "0"),
    };
    let d = match conn {
        DbConnection::Pg(_) => "CAST('2026-12-04' AS DATE)",
        DbConnection::Sqlite(_) => "'2026-12-04'",
    };
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query("INSERT INTO tracking_counters (year, last_seq) VALUES (1999, 0) ON CONFLICT (year) DO NOTHING").execute(conn)?;
        diesel::sql_query("UPDATE tracking_counters SET last_seq = last_seq + 1 WHERE year = 1999").execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO complaints (id, tracking_number, tracking_year, tracking_seq, channel, status, language, complainant_type, complainant_name, company, nationality, email, phone, project, matter_type, subject, facts, request, review_or_lawsuit, confidential, access_code_hash, received_at, due_at, overdue, version, updated_at) \
             VALUES ('raw{n}', 'RAW-{n}', 1999, {n}, 'web', 'received', 'en', 'foreign_investor', 'Bench', 'Bench GmbH', 'DE', 'bench@example.de', '+49 30 1234567', 'P', 'administrative_act', 'S', 'F', 'R', {f}, {f}, 'x', {t}, {t}, {f}, 1, {t})"
        ))
        .execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO complaint_clocks (id, complaint_id, kind, ordinal, started_at, working_days, extension_days, due_at, due_date, provisional) VALUES ('rawk{n}', 'raw{n}', 'reply', 1, {t}, 7, 0, {t}, {d}, {f})"
        ))
        .execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO complaint_events (id, complaint_id, seq, at, actor_kind, action, to_status, detail, investor_visible, prev_hash, hash) VALUES ('rawe{n}', 'raw{n}', 1, {t}, 'investor', 'file', 'received', '{{}}', {f}, 'x', 'y')"
        ))
        .execute(conn)?;
        diesel::sql_query(format!(
            "INSERT INTO outbox (id, dedupe_key, notice, language, recipient, subject, status, attempts, next_attempt_at, created_at, message_id) VALUES ('rawo{n}', 'raw{n}', 'receipt', 'en', 'bench@example.de', 's', 'pending', 0, {t}, {t}, '<raw{n}@x>')"
        ))
        .execute(conn)?;
        Ok(())
    })
    .unwrap();
}

/// Signs in, makes a department with staff and one complaint assigned to it.
fn fixtures(base: &str, password: &str) -> (String, String, String, String) {
    let email = anshang::bootstrap::BOOTSTRAP_ADMIN_EMAIL;
    let otp = post(base, "/api/v1/auth/login", None, &json!({"email": email, "password": password})).1["token"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        base,
        "/api/v1/auth/password",
        Some(&otp),
        &json!({"current_password": password, "new_password": "bench-password-123456"}),
    );
    let admin = post(base, "/api/v1/auth/login", None, &json!({"email": email, "password": "bench-password-123456"})).1
        ["token"]
        .as_str()
        .unwrap()
        .to_string();
    let dept = post(base, "/api/v1/departments", Some(&admin), &json!({"code": "bench", "name_zh": "测", "name_en": "Bench", "kind": "department", "contact_email": "a@b.cn", "head_email": "a@b.cn"})).1["id"].as_str().unwrap().to_string();
    for (e, role, d) in [("co@b.cn", "coordinator", Value::Null), ("st@b.cn", "department", json!(dept))] {
        post(
            base,
            "/api/v1/users",
            Some(&admin),
            &json!({"email": e, "display_name": e, "role": role, "department_id": d, "password": "bench-password-123456"}),
        );
    }
    let co = post(base, "/api/v1/auth/login", None, &json!({"email": "co@b.cn", "password": "bench-password-123456"}))
        .1["token"]
        .as_str()
        .unwrap()
        .to_string();
    let staff =
        post(base, "/api/v1/auth/login", None, &json!({"email": "st@b.cn", "password": "bench-password-123456"})).1
            ["token"]
            .as_str()
            .unwrap()
            .to_string();
    let filed = post(base, "/api/v1/complaints", None, &complaint_body()).1;
    let id = filed["id"].as_str().unwrap().to_string();
    post(base, &format!("/api/v1/complaints/{id}/assign"), Some(&co), &json!({"department_id": dept}));
    (
        admin,
        filed["tracking_number"].as_str().unwrap().to_string(),
        filed["access_code"].as_str().unwrap().to_string(),
        staff,
    )
}

struct DropDb(String, String);
impl Drop for DropDb {
    fn drop(&mut self) {
        if let Ok(mut c) = diesel::PgConnection::establish(&self.0) {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.1)).execute(&mut c);
        }
    }
}

fn fresh_pg(admin: &str) -> (String, Option<DropDb>) {
    let name = format!("anshang_bench_{}", uuid::Uuid::new_v4().simple());
    let mut c = diesel::PgConnection::establish(admin).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut c).unwrap();
    let base = admin.rsplit_once('/').unwrap().0;
    (format!("{base}/{name}"), Some(DropDb(admin.to_string(), name)))
}

fn series(conn: &DbConnection, n: usize) -> String {
    match conn {
        DbConnection::Pg(_) => format!("generate_series(1, {n}) AS s(n)"),
        DbConnection::Sqlite(_) => format!(
            "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) SELECT n FROM s) AS s"
        ),
    }
}

/// A closed round over 10 departments with `n` ballot rows; time its tally.
fn tally_ms(settings: &Settings, n: usize) -> f64 {
    let pool = anshang::state::open_database(settings).unwrap();
    let mut conn = pool.get().unwrap();
    let round = format!("round{n}");
    let ts = match &*conn {
        DbConnection::Pg(_) => "CAST('2026-11-25 02:00:00' AS TIMESTAMP)",
        DbConnection::Sqlite(_) => "'2026-11-25 02:00:00'",
    };
    diesel::sql_query(format!(
        "INSERT INTO ballot_rounds (id, title, year, status, opens_at, closes_at, min_group_size, questions, points, quotas, created_at, updated_at) VALUES ('{round}', 'b', 2026, 'closed', {ts}, {ts}, 5, '{}', '{}', '{{}}', {ts}, {ts})",
        serde_json::to_string(&anshang::ballots::model::default_questions()).unwrap(),
        serde_json::to_string(&anshang::ballots::model::Points::default()).unwrap()
    ))
    .execute(&mut *conn)
    .unwrap();
    for d in 0..10 {
        let dept = format!("benchdept{d}");
        let f = match &*conn {
            DbConnection::Pg(_) => "TRUE",
            DbConnection::Sqlite(_) => "1",
        };
        diesel::sql_query(format!("INSERT INTO departments (id, code, name_zh, name_en, kind, contact_email, head_email, active, created_at, updated_at) VALUES ('{dept}', '{dept}', 'd', 'd', 'department', 'a@b.cn', 'a@b.cn', {f}, {ts}, {ts}) ON CONFLICT DO NOTHING")).execute(&mut *conn).unwrap();
        diesel::sql_query(format!(
            "INSERT INTO ballot_round_departments (round_id, department_id) VALUES ('{round}', '{dept}')"
        ))
        .execute(&mut *conn)
        .unwrap();
    }
    let answers = r#"{"attitude":"satisfied","efficiency":"basically_satisfied","integrity":"satisfied","overall":"dissatisfied"}"#;
    let s = series(&conn, n);
    diesel::sql_query(format!("INSERT INTO ballots (id, round_id, department_id, category, answers) SELECT '{round}-' || n, '{round}', 'benchdept' || (n % 10), 'enterprise_served', '{answers}' FROM {s}"))
        .execute(&mut *conn)
        .unwrap();
    let r = anshang::ballots::service::find(&mut conn, &anshang::ids::RoundId::new(round.as_str())).unwrap();
    let t = Instant::now();
    let tally = anshang::ballots::service::results(&mut conn, &r).unwrap();
    assert_eq!(tally.len(), 10);
    t.elapsed().as_secs_f64() * 1000.0
}

/// `n` complaints of 2025 over 100 departments (each replied on time), then the year's assessment.
fn assessment_ms(settings: &Settings, n: usize) -> f64 {
    let pool = anshang::state::open_database(settings).unwrap();
    let mut conn = pool.get().unwrap();
    let (ts, f, tr) = match &*conn {
        DbConnection::Pg(_) => ("CAST('2025-03-03 02:00:00' AS TIMESTAMP)", "FALSE", "TRUE"),
        DbConnection::Sqlite(_) => ("'2025-03-03 02:00:00'", "0", "1"),
    };
    let later = match &*conn {
        DbConnection::Pg(_) => "CAST('2025-03-05 02:00:00' AS TIMESTAMP)",
        DbConnection::Sqlite(_) => "'2025-03-05 02:00:00'",
    };
    let due = match &*conn {
        DbConnection::Pg(_) => "CAST('2025-03-12 16:00:00' AS TIMESTAMP)",
        DbConnection::Sqlite(_) => "'2025-03-12 16:00:00'",
    };
    let date = match &*conn {
        DbConnection::Pg(_) => "CAST('2025-03-12' AS DATE)",
        DbConnection::Sqlite(_) => "'2025-03-12'",
    };
    let prefix = format!("a{n}x");
    // A tracking "year" of its own per run keeps the (year, seq) key unique across runs.
    let year_tag = 3000 + n.ilog10();
    for d in 0..100 {
        diesel::sql_query(format!("INSERT INTO departments (id, code, name_zh, name_en, kind, contact_email, head_email, active, created_at, updated_at) VALUES ('{prefix}d{d}', '{prefix}d{d}', 'd', 'd', 'department', 'a@b.cn', 'a@b.cn', {tr}, {ts}, {ts})")).execute(&mut *conn).unwrap();
    }
    let s = series(&conn, n);
    diesel::sql_query(format!(
        "INSERT INTO complaints (id, tracking_number, tracking_year, tracking_seq, channel, status, language, complainant_type, complainant_name, company, nationality, email, phone, project, matter_type, subject, facts, request, review_or_lawsuit, confidential, access_code_hash, department_id, received_at, overdue, rating, version, updated_at) \
         SELECT '{prefix}' || n, '{prefix}-' || n, {year_tag}, n, 'web', 'closed', 'en', 'foreign_investor', 'N', 'C', 'DE', 'e@x.de', '+49 30 1', 'P', 'administrative_act', 'S', 'F', 'R', {f}, {f}, 'x', '{prefix}d' || (n % 100), {ts}, {f}, 'satisfied', 1, {ts} FROM {s}"
    ))
    .execute(&mut *conn)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO complaint_clocks (id, complaint_id, kind, ordinal, started_at, working_days, extension_days, due_at, due_date, provisional, stopped_at, stop_reason) \
         SELECT '{prefix}k' || n, '{prefix}' || n, 'reply', 1, {ts}, 7, 0, {due}, {date}, {f}, {later}, 'replied' FROM {s}"
    ))
    .execute(&mut *conn)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO complaint_assignments (id, complaint_id, department_id, assigned_at, released_at, release_reason, working_days_held) \
         SELECT '{prefix}a' || n, '{prefix}' || n, '{prefix}d' || (n % 100), {ts}, {later}, 'replied', 2 FROM {s}"
    ))
    .execute(&mut *conn)
    .unwrap();
    let cal = anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut conn)).unwrap();
    let t = Instant::now();
    let r = anshang::assessment::report::compute(&mut conn, &cal, &settings.assessment, 2025, db::now()).unwrap();
    assert!(r.departments.len() >= 100);
    t.elapsed().as_secs_f64() * 1000.0
}
