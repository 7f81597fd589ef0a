//! `/metrics`: who may read it (the scraper's token or an admin; the dedicated listener), and
//! that its figures, read with a real Prometheus text-format parser, move with the service:
//! complaints filed and assigned, rungs taken, email delivered or failed, requests counted by
//! route pattern — from the service's own workers and from other processes (the CLI) alike.

mod common;

use std::io::BufRead;
use std::time::{Duration, Instant};

use common::smtp::SmtpSink;
use common::{complaint_json, TestApp};
use prometheus_parse::{Scrape, Value};
use serde_json::json;

const SCRAPER_TOKEN: &str = "scraper-token-0123456789abcdef0123456789";

/// One scrape, parsed.
struct Scraped(Scrape);

impl Scraped {
    fn parse(body: &str) -> Scraped {
        Scraped(Scrape::parse(body.as_bytes().lines()).expect("the Prometheus text format"))
    }

    /// The value of the sample `name` whose labels include `labels`; `None` if there is none.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.0
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .find(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match &s.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
                Value::Summary(_) => panic!("{name} is a summary"),
            })
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }
}

fn scrape(app: &TestApp, token: &str) -> Scraped {
    let r = app.get("/metrics", Some(token));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.starts_with("text/plain; version=0.0.4"), "{}", r.content_type);
    Scraped::parse(&r.body)
}

/// Scrapes until `ready` holds (the service's workers run on their own ticks).
fn scrape_until(app: &TestApp, token: &str, what: &str, ready: impl Fn(&Scraped) -> bool) -> Scraped {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = scrape(app, token);
        if ready(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// (status, body) of a GET to another listener.
fn get_at(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let mut resp = req.call().expect("HTTP exchange");
    (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn only_an_admin_or_the_scraper_token_reads_metrics() {
    let port = free_port();
    let app = common::spawn_app_with(move |s| {
        s.metrics.token = SCRAPER_TOKEN.into();
        s.metrics.listen = format!("127.0.0.1:{port}");
    });
    let admin = app.admin_token();
    app.get("/metrics", None).assert_problem(401, "unauthenticated");
    app.get("/metrics", Some("not-a-token")).assert_problem(401, "unauthenticated");
    app.get("/metrics", Some(&SCRAPER_TOKEN.replace('0', "1"))).assert_problem(401, "unauthenticated");
    for role in ["operator", "coordinator", "commission"] {
        let token = app.staff_token(&admin, role, None);
        app.get("/metrics", Some(&token)).assert_problem(403, "forbidden");
    }
    let dept = app.create_department(&admin, "land");
    let department = app.staff_token(&admin, "department", Some(&dept));
    app.get("/metrics", Some(&department)).assert_problem(403, "forbidden");

    let by_admin = scrape(&app, &admin);
    assert_eq!(by_admin.value("anshang_database_up", &[]), 1.0);
    let by_scraper = scrape(&app, SCRAPER_TOKEN);
    assert_eq!(by_scraper.value("anshang_complaints_open", &[("status", "received")]), 0.0);

    // The dedicated listener wants the token too when one is set, and serves nothing else.
    let (status, body) = get_at(port, "/metrics", None);
    assert_eq!(status, 401, "{body}");
    let (status, body) = get_at(port, "/metrics", Some(SCRAPER_TOKEN));
    assert_eq!(status, 200, "{body}");
    assert_eq!(Scraped::parse(&body).value("anshang_database_up", &[]), 1.0);
    let (status, _) = get_at(port, "/api/v1/departments", Some(SCRAPER_TOKEN));
    assert_eq!(status, 404, "the metrics listener serves only /metrics");
}

#[test]
fn a_dedicated_listener_without_a_token_is_open_and_the_main_one_is_not() {
    let port = free_port();
    let app = common::spawn_app_with(move |s| s.metrics.listen = format!("127.0.0.1:{port}"));
    let (status, body) = get_at(port, "/metrics", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(Scraped::parse(&body).value("anshang_db_pool_max_connections", &[]), 4.0);
    let (status, _) = get_at(port, "/healthz", None);
    assert_eq!(status, 404);
    app.get("/metrics", None).assert_problem(401, "unauthenticated");
}

#[test]
fn the_service_s_own_workers_move_the_figures() {
    let sink = SmtpSink::start();
    sink.set_accepting(false);
    let smtp = sink.port();
    let started_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{smtp}");
        s.mail.max_attempts = 1;
        s.mail.deliver_interval_secs = 1;
        s.escalation.sweep_interval_secs = 1;
    });
    let admin = app.admin_token();
    let before = scrape(&app, &admin);
    assert_eq!(before.value("anshang_complaints_open", &[("status", "received")]), 0.0);
    assert_eq!(before.value("anshang_outbox_messages", &[("status", "failed")]), 0.0);

    // The mail server is down: the receipt fails for good (one attempt allowed).
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let (id, number) = (filed["id"].as_str().unwrap(), filed["tracking_number"].as_str().unwrap());
    let failed = scrape_until(&app, &admin, "the receipt to fail", |s| {
        s.value("anshang_outbox_messages", &[("status", "failed")]) == 1.0
    });
    assert_eq!(failed.value("anshang_complaints_open", &[("status", "received")]), 1.0);
    assert_eq!(failed.value("anshang_outbox_messages", &[("status", "pending")]), 0.0);
    assert!(failed.value("anshang_mail_delivery_messages_total", &[("outcome", "failed")]) >= 1.0);

    // Back up: the assignment's notice is sent; the delivery loop and the sweeper report in.
    sink.set_accepting(true);
    let dept = app.create_department(&admin, "land");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let r = app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}));
    assert_eq!(r.status, 200, "{}", r.body);
    // The notice of the assignment (an at-assignment rung, queued by the assignment itself).
    let after = scrape_until(&app, &admin, "the assignment's email", |s| {
        s.get("anshang_mail_delivery_messages_total", &[("outcome", "sent")]).unwrap_or(0.0) >= 1.0
            && s.value("anshang_outbox_messages", &[("status", "pending")]) == 0.0
    });
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(after.value("anshang_complaints_open", &[("status", "received")]), 0.0);
    assert_eq!(after.value("anshang_complaints_open", &[("status", "assigned")]), 1.0);
    assert_eq!(after.value("anshang_outbox_oldest_pending_age_seconds", &[]), 0.0);
    for pass in ["anshang_mail_delivery", "anshang_sweep"] {
        assert!(after.value(&format!("{pass}_last_run_timestamp_seconds"), &[]) >= started_at, "{pass}");
        assert!(after.value(&format!("{pass}_last_success_timestamp_seconds"), &[]) >= started_at, "{pass}");
        assert_eq!(after.value(&format!("{pass}_last_success"), &[]), 1.0, "{pass}");
        assert!(after.value(&format!("{pass}_last_duration_seconds"), &[]) >= 0.0, "{pass}");
    }

    // Requests are counted by route pattern: the assignment once, under its pattern.
    let assign = [("route", "/api/v1/complaints/:id/assign"), ("method", "POST"), ("status", "200")];
    assert_eq!(after.value("anshang_http_requests_total", &assign), 1.0);
    assert!(after.value("anshang_http_requests_total", &[("route", "/api/v1/complaints"), ("status", "201")]) >= 1.0);
    assert!(after.value("anshang_http_request_duration_seconds", &[("route", "/api/v1/complaints/:id/assign")]) >= 1.0);
    app.get(&format!("/api/v1/complaints/by-number/{number}"), Some(&coordinator));
    app.get("/no/such/page/CZ-2026-000001", None);
    let counted = scrape(&app, &admin);
    for sample in &counted.0.samples {
        for value in sample.labels.values() {
            assert!(!value.contains(number) && !value.contains(id), "an id in a label: {sample:?}");
            assert!(!value.contains("CZ-2026"), "a raw path in a label: {sample:?}");
        }
    }
    assert!(counted.value("anshang_http_requests_total", &[("route", "unmatched"), ("status", "404")]) >= 1.0);
}

#[test]
fn figures_written_by_other_processes_show_at_the_next_scrape() {
    let sink = SmtpSink::start();
    let smtp = sink.port();
    let app = common::spawn_app_with(move |s| {
        s.mail.smtp_url = format!("smtp://127.0.0.1:{smtp}");
        // The workers stay out of the way: the CLI does the sweeping and delivering.
        s.escalation.sweep_interval_secs = 3600;
        s.mail.deliver_interval_secs = 3600;
    });
    let admin = app.admin_token();
    let cli = |args: &[&str]| {
        let mut cmd = common::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        cmd.args(args)
            .env("ANSHANG__DATABASE__URL", &app.database.url)
            .env("ANSHANG__SERVER__DATA_DIR", app.data_dir.path())
            .env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{smtp}"));
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let dept = app.create_department(&admin, "land");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en")).json();
    let id = filed["id"].as_str().unwrap();
    std::thread::sleep(Duration::from_millis(1100));

    let queued = scrape(&app, &admin);
    assert_eq!(queued.value("anshang_outbox_messages", &[("status", "pending")]), 1.0);
    assert!(queued.value("anshang_outbox_oldest_pending_age_seconds", &[]) >= 1.0);

    cli(&["mail", "deliver", "--once"]);
    let delivered = scrape(&app, &admin);
    assert_eq!(delivered.value("anshang_outbox_messages", &[("status", "pending")]), 0.0);
    assert_eq!(delivered.value("anshang_outbox_oldest_pending_age_seconds", &[]), 0.0);
    assert_eq!(sink.messages().len(), 1);

    let r = app.post(&format!("/api/v1/complaints/{id}/assign"), Some(&coordinator), &json!({"department_id": dept}));
    assert_eq!(r.status, 200, "{}", r.body);
    let assigned = scrape(&app, &admin);
    assert_eq!(assigned.value("anshang_outbox_messages", &[("status", "pending")]), 1.0);
    assert_eq!(assigned.value("anshang_complaints_overdue", &[]), 0.0);
    assert_eq!(assigned.get("anshang_escalation_rungs_taken", &[("step", "overdue")]), None);

    cli(&["mail", "deliver", "--once"]);

    // A sweep in another process, as of the day after the due date: the breach is recorded.
    let due: chrono::NaiveDate = filed["due_date"].as_str().unwrap().parse().unwrap();
    let breach = format!("{}T00:00:01+08:00", due.succ_opt().unwrap());
    cli(&["sweep", "--once", "--simulate", "--now", &breach]);
    let swept = scrape(&app, &admin);
    assert_eq!(swept.value("anshang_complaints_overdue", &[]), 1.0);
    assert_eq!(swept.value("anshang_escalation_rungs_taken", &[("step", "overdue")]), 1.0);
    assert_eq!(swept.value("anshang_escalation_rungs_taken", &[("step", "reminder")]), 1.0);
    assert_eq!(swept.value("anshang_complaints_open", &[("status", "assigned")]), 1.0);
    // The rungs' emails wait for their (simulated) working hours: pending, but not late.
    assert!(swept.value("anshang_outbox_messages", &[("status", "pending")]) >= 1.0);
    assert_eq!(swept.value("anshang_outbox_oldest_pending_age_seconds", &[]), 0.0);
}
