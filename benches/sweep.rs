//! Sweeper cost as the number of open complaints grows: N open complaints, 100 of them with a
//! rung due; time one sweep (find + take + queue the emails) against the cost of the bare
//! index lookup measured in the same run.
//!
//!   cargo bench --bench sweep                       # SQLite, N = 10k, 100k, 1M
//!   ANSHANG_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench sweep
//!   ANSHANG_BENCH_SIZES=10000,100000 cargo bench --bench sweep
//!
//! (Under `cargo test`/nextest the binary is only listed, never run.)

use std::time::{Duration, Instant};

use anshang::complaints::context::Rules;
use anshang::config::{Settings, SettingsSource};
use anshang::db::{self, DbConnection};
use diesel::prelude::*;

const DUE: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        return; // listed by a test runner: nothing to run
    }
    let sizes: Vec<usize> = std::env::var("ANSHANG_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("sizes are numbers"))
        .collect();
    let pg = std::env::var("ANSHANG_BENCH_PG_URL").ok().filter(|u| !u.is_empty());
    println!("backend: {}", if pg.is_some() { "postgres" } else { "sqlite" });
    println!("{:>10} {:>12} {:>14} {:>14} {:>8}", "open", "insert s", "index find ms", "sweep ms", "rungs");
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let (url, _guard) = match &pg {
            Some(admin) => fresh_pg(admin),
            None => (format!("sqlite://{}", dir.path().join("bench.db").display()), None),
        };
        let mut settings = Settings::load(&SettingsSource { env: Some(vec![]), ..Default::default() }).unwrap();
        settings.server.data_dir = dir.path().to_path_buf();
        settings.database.url = url;
        let pool = anshang::state::open_database(&settings).unwrap();
        let mut conn = pool.get().unwrap();
        let started = Instant::now();
        seed(&mut conn, n);
        let inserted = started.elapsed();
        let cal = anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut conn)).unwrap();
        let rules = Rules::from_settings(&settings).unwrap();
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00+08:00").unwrap().to_utc();
        let find = {
            let t = Instant::now();
            let ids: Vec<String> = anshang::db::schema::complaint_clocks::table
                .filter(anshang::db::schema::complaint_clocks::next_step_at.le(db::to_db_time(now)))
                .limit(500)
                .select(anshang::db::schema::complaint_clocks::id)
                .load(&mut conn)
                .unwrap();
            assert_eq!(ids.len(), DUE);
            t.elapsed()
        };
        let t = Instant::now();
        let report = anshang::escalation::sweep::sweep_once(&mut conn, &rules.ctx(&cal, now), 500).unwrap();
        let sweep = t.elapsed();
        println!(
            "{:>10} {:>12.1} {:>14.2} {:>14.1} {:>8}",
            n,
            inserted.as_secs_f64(),
            ms(find),
            ms(sweep),
            report.taken.len()
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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

/// N open complaints with their reply clocks in two set-based statements; the first 100 have a
/// rung that fell due (due 2026-11-24), the rest are due far later.
fn seed(conn: &mut DbConnection, n: usize) {
    let series = match conn {
        DbConnection::Pg(_) => format!("generate_series(1, {n}) AS s(n)"),
        DbConnection::Sqlite(_) => format!(
            "(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) SELECT n FROM s) AS s"
        ),
    };
    let due = format!("CASE WHEN n <= {DUE} THEN '2026-11-24 16:00:00' ELSE '2027-03-01 16:00:00' END");
    let due_date = format!("CASE WHEN n <= {DUE} THEN '2026-11-24' ELSE '2027-03-01' END");
    let next = format!("CASE WHEN n <= {DUE} THEN '2026-11-20 16:00:00' ELSE '2027-02-25 16:00:00' END");
    let cast = |v: &str, t: &str| match conn {
        DbConnection::Pg(_) => format!("CAST({v} AS {t})"),
        DbConnection::Sqlite(_) => v.to_string(),
    };
    let (due_ts, due_d, next_ts) = (cast(&due, "TIMESTAMP"), cast(&due_date, "DATE"), cast(&next, "TIMESTAMP"));
    let received = cast("'2026-11-13 02:00:00'", "TIMESTAMP");
    let complaints = format!(
        "INSERT INTO complaints (id, tracking_number, tracking_year, tracking_seq, channel, status, language, complainant_type, \
         complainant_name, company, nationality, email, phone, project, matter_type, subject, facts, request, review_or_lawsuit, \
         confidential, access_code_hash, received_at, due_at, overdue, version, updated_at) \
         SELECT 'c' || n, 'BENCH-' || n, 2026, n, 'web', 'received', 'en', 'foreign_investor', 'Name', 'Company', 'DE', \
         'investor@example.de', '+49 30 1234567', 'Project', 'administrative_act', 'Subject', 'Facts', 'Request', {f}, {f}, 'x', \
         {received}, {due_ts}, {f}, 1, {received} FROM {series}",
        f = match conn { DbConnection::Pg(_) => "FALSE", DbConnection::Sqlite(_) => "0" },
    );
    diesel::sql_query(complaints).execute(conn).unwrap();
    let clocks = format!(
        "INSERT INTO complaint_clocks (id, complaint_id, kind, ordinal, started_at, working_days, extension_days, due_at, due_date, \
         provisional, next_step, next_step_at) SELECT 'k' || n, 'c' || n, 'reply', 1, {received}, 7, 0, {due_ts}, {due_d}, {f}, 'reminder', {next_ts} FROM {series}",
        f = match conn { DbConnection::Pg(_) => "FALSE", DbConnection::Sqlite(_) => "0" },
    );
    diesel::sql_query(clocks).execute(conn).unwrap();
    if let DbConnection::Pg(_) = conn {
        diesel::sql_query("ANALYZE").execute(conn).unwrap();
    }
}
