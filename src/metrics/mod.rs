//! Prometheus metrics: what this instance counts in memory (HTTP requests by route pattern and
//! status, latency; the last sweep and the last delivery pass it ran) and, at every scrape, the
//! figures the database holds (open and overdue complaints, rungs, the outbox, ballot rounds),
//! so those are right on every instance and after a restart. `/metrics` is in `routes`, the
//! request counting in `http`, the database figures in `figures`.

pub mod figures;
pub mod http;
pub mod routes;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub use figures::DatabaseFigures;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The series this instance keeps in memory.
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    /// The sweeper's passes (`escalation::worker`).
    pub sweep: PassGauges,
    /// The mail delivery loop's passes (`mail::worker`).
    pub delivery: PassGauges,
    mail_outcomes: IntCounterVec,
    rungs_taken_here: IntCounterVec,
}

/// The last pass of a background loop: when it ended, how long it took, whether it worked, and
/// when one last worked.
pub struct PassGauges {
    last_run: Gauge,
    last_success: Gauge,
    last_duration: Gauge,
    last_ok: IntGauge,
}

/// The names of one loop's pass gauges, spelt out so a search finds each.
struct PassNames {
    last_run: &'static str,
    last_success: &'static str,
    last_duration: &'static str,
    last_ok: &'static str,
}

impl PassGauges {
    fn register(registry: &Registry, names: PassNames, what: &str) -> PassGauges {
        let gauge = |name: &str, help: String| {
            let g = Gauge::with_opts(Opts::new(name, help)).expect("valid metric");
            registry.register(Box::new(g.clone())).expect("unique metric");
            g
        };
        let last_ok = IntGauge::with_opts(Opts::new(
            names.last_ok,
            format!("1 if this instance's last {what} worked, 0 if it failed"),
        ))
        .expect("valid metric");
        registry.register(Box::new(last_ok.clone())).expect("unique metric");
        PassGauges {
            last_run: gauge(names.last_run, format!("Unix time this instance's last {what} ended")),
            last_success: gauge(names.last_success, format!("Unix time this instance's last {what} that worked ended")),
            last_duration: gauge(names.last_duration, format!("How long this instance's last {what} took")),
            last_ok,
        }
    }

    /// Records a pass that just ended after `took`.
    pub fn finished(&self, took: Duration, ok: bool) {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        self.last_run.set(now);
        self.last_duration.set(took.as_secs_f64());
        self.last_ok.set(i64::from(ok));
        if ok {
            self.last_success.set(now);
        }
    }
}

/// The database pool at the moment of a scrape (r2d2 `Pool::state`; r2d2 does not say how many
/// requests wait for a connection).
#[derive(Debug, Clone, Copy)]
pub struct PoolFigures {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let http_requests = IntCounterVec::new(
            Opts::new("anshang_http_requests_total", "HTTP requests answered, by route pattern, method and status"),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "anshang_http_request_duration_seconds",
                "Time to answer HTTP requests, by route pattern",
            ),
            &["route", "method"],
        )
        .expect("valid metric");
        let mail_outcomes = IntCounterVec::new(
            Opts::new(
                "anshang_mail_delivery_messages_total",
                "Outbox messages this instance's delivery passes handled, by outcome (sent, retrying, failed, cancelled)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let rungs_taken_here = IntCounterVec::new(
            Opts::new("anshang_sweep_rungs_taken_total", "Ladder rungs this instance's sweeps took, by rung"),
            &["step"],
        )
        .expect("valid metric");
        let registry = Registry::new();
        registry.register(Box::new(rungs_taken_here.clone())).expect("unique metric");
        registry.register(Box::new(http_requests.clone())).expect("unique metric");
        registry.register(Box::new(http_duration.clone())).expect("unique metric");
        registry.register(Box::new(mail_outcomes.clone())).expect("unique metric");
        let sweep = PassGauges::register(
            &registry,
            PassNames {
                last_run: "anshang_sweep_last_run_timestamp_seconds",
                last_success: "anshang_sweep_last_success_timestamp_seconds",
                last_duration: "anshang_sweep_last_duration_seconds",
                last_ok: "anshang_sweep_last_success",
            },
            "sweep",
        );
        let delivery = PassGauges::register(
            &registry,
            PassNames {
                last_run: "anshang_mail_delivery_last_run_timestamp_seconds",
                last_success: "anshang_mail_delivery_last_success_timestamp_seconds",
                last_duration: "anshang_mail_delivery_last_duration_seconds",
                last_ok: "anshang_mail_delivery_last_success",
            },
            "mail delivery pass",
        );
        Metrics { registry, http_requests, http_duration, sweep, delivery, mail_outcomes, rungs_taken_here }
    }

    /// One answered request. `route` is the matched pattern (never the raw path: no tracking
    /// numbers or ids in labels); methods outside the standard set count as `OTHER`.
    pub fn record_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let method = match method {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => method,
            _ => "OTHER",
        };
        self.http_requests.with_label_values(&[route, method, &status.to_string()]).inc();
        self.http_duration.with_label_values(&[route, method]).observe(took.as_secs_f64());
    }

    /// The rungs one sweep took, by name.
    pub fn record_rungs_taken<'a>(&self, steps: impl IntoIterator<Item = &'a str>) {
        for step in steps {
            self.rungs_taken_here.with_label_values(&[step]).inc();
        }
    }

    /// The messages one delivery pass handled.
    pub fn record_delivery_outcomes(&self, sent: usize, retrying: usize, failed: usize, cancelled: usize) {
        for (outcome, n) in [("sent", sent), ("retrying", retrying), ("failed", failed), ("cancelled", cancelled)] {
            self.mail_outcomes.with_label_values(&[outcome]).inc_by(n as u64);
        }
    }

    /// The exposition text: this instance's series, the pool, and the database figures (or
    /// `anshang_database_up 0` when they could not be read).
    pub fn render(&self, database: Option<&DatabaseFigures>, pool: PoolFigures) -> String {
        let mut families = self.registry.gather();
        families.extend(scrape_time_families(database, pool));
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = Vec::new();
        TextEncoder::new().encode(&families, &mut out).expect("text encoding of valid metrics");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

/// The families read at scrape time, built afresh for each scrape so concurrent scrapes never
/// see each other's half-set values.
fn scrape_time_families(database: Option<&DatabaseFigures>, pool: PoolFigures) -> Vec<prometheus::proto::MetricFamily> {
    let registry = Registry::new();
    let gauge = |name: &str, help: &str, value: f64| {
        let g = Gauge::with_opts(Opts::new(name, help)).expect("valid metric");
        g.set(value);
        registry.register(Box::new(g)).expect("unique metric");
    };
    let labelled = |name: &str, help: &str, label: &str, values: &[(String, i64)]| {
        let g = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
        for (key, n) in values {
            g.with_label_values(&[key.as_str()]).set(*n);
        }
        registry.register(Box::new(g)).expect("unique metric");
    };
    let in_use = pool.connections.saturating_sub(pool.idle);
    labelled(
        "anshang_db_pool_connections",
        "Connections of this instance's database pool, in use or idle (r2d2 does not count waiting requests)",
        "state",
        &[("in_use".into(), i64::from(in_use)), ("idle".into(), i64::from(pool.idle))],
    );
    gauge("anshang_db_pool_max_connections", "Most connections this instance's pool opens", f64::from(pool.max));
    gauge(
        "anshang_database_up",
        "1 if this scrape read the database figures, 0 if the database did not answer",
        if database.is_some() { 1.0 } else { 0.0 },
    );
    if let Some(db) = database {
        labelled(
            "anshang_complaints_open",
            "Complaints not closed or withdrawn, by status",
            "status",
            &db.open_by_status,
        );
        gauge("anshang_complaints_overdue", "Open complaints whose reply clock is breached", db.overdue as f64);
        gauge(
            "anshang_escalation_rungs_due",
            "Complaint clocks whose next ladder rung has fallen due and is not yet taken",
            db.rungs_due as f64,
        );
        // A gauge, not a counter: a rung re-armed by a later fact (an extension, a pause) is
        // no longer on record until it is taken again.
        labelled(
            "anshang_escalation_rungs_taken",
            "Ladder rungs taken and on record, by rung",
            "step",
            &db.rungs_taken,
        );
        labelled(
            "anshang_outbox_messages",
            "Outbox messages by status: pending (to send or retry), failed (gave up), cancelled",
            "status",
            &db.outbox_by_status,
        );
        gauge(
            "anshang_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending message that is due or being retried (0 when none)",
            db.oldest_pending_age_secs,
        );
        gauge("anshang_ballot_rounds_open", "Ballot rounds open for voting", db.rounds_open as f64);
        gauge(
            "anshang_ballots_cast_in_open_rounds",
            "Ballots cast so far in the rounds now open (one-time codes used)",
            db.ballots_cast_in_open_rounds as f64,
        );
    }
    registry.gather()
}
