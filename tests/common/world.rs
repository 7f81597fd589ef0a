//! A running instance with a real SMTP server, the escalation offices and two departments, and a
//! handle on the service for acting at chosen instants (as the API would call it); sweeps and
//! deliveries run the binary with `--simulate`.

use anshang::complaints::context;
use anshang::ids::{ComplaintId, DepartmentId, UserId};
use std::time::Duration;

use anshang::calendar::WorkingCalendar;
use anshang::complaints::context::{Acting, Rules};
use anshang::complaints::intake::{self, FileComplaintRequest};
use anshang::complaints::service;
use anshang::complaints::state::Actor;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::smtp::{ReceivedMail, SmtpSink};
use super::{complaint_json, TestApp};

/// A running instance with a real SMTP server, the offices, two departments and a handle on
/// the service for acting at chosen instants.
pub struct World {
    pub app: TestApp,
    pub sink: SmtpSink,
    pub admin: String,
    pub coordinator: String,
    pub land: DepartmentId,
    pub water: DepartmentId,
    pool: anshang::db::Pool,
    rules: Rules,
    pub cal: WorkingCalendar,
}

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

impl World {
    pub fn new() -> World {
        let sink = SmtpSink::start();
        let port = sink.port();
        let app = super::spawn_app_with(move |s| {
            s.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
            // The test drives every sweep and delivery itself.
            s.escalation.sweep_interval_secs = 3600;
            s.mail.deliver_interval_secs = 3600;
            // One investor files many complaints here; the address budget has its own test.
            s.mail.investor_emails_per_address_per_day = 1000;
        });
        let admin = app.admin_token();
        for code in ["coordination-office", "discipline-commission", "party-supervision", "government-supervision"] {
            let r = app.post(
                "/api/v1/departments",
                Some(&admin),
                &json!({"code": code, "name_zh": code, "name_en": code, "kind": "office", "contact_email": format!("{code}@example.gov.cn"), "head_email": format!("{code}-head@example.gov.cn")}),
            );
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let land = DepartmentId::new(app.create_department(&admin, "land"));
        let water = DepartmentId::new(app.create_department(&admin, "water"));
        let coordinator = app.staff_token(&admin, "coordinator", None);
        let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
        let pool = anshang::db::connect_pool(&url, 2, Duration::from_secs(5)).unwrap();
        let cal = {
            let mut conn = pool.get().unwrap();
            anshang::calendar::runtime::build(std::path::Path::new("config/calendar"), Some(&mut conn)).unwrap()
        };
        let rules = Rules::from_settings(&app.settings).unwrap();
        World { app, sink, admin, coordinator, land, water, pool, rules, cal }
    }

    /// Runs one service operation as of `now`.
    pub fn act<T, E: std::fmt::Debug>(
        &self,
        now: &str,
        op: impl FnOnce(&mut anshang::db::DbConnection, &context::Ctx) -> Result<T, E>,
    ) -> T {
        let mut conn = self.pool.get().unwrap();
        let ctx = self.rules.ctx(&self.cal, at(now));
        op(&mut conn, &ctx).unwrap_or_else(|e| panic!("at {now}: {e:?}"))
    }

    /// Files a complaint in `lang` received at `now`; returns (id, tracking number).
    pub fn file(&self, now: &str, lang: &str) -> (ComplaintId, String) {
        let (id, number, _) = self.file_with_code(now, lang);
        (id, number)
    }

    /// Files as `file` does; also returns the access code.
    pub fn file_with_code(&self, now: &str, lang: &str) -> (ComplaintId, String, String) {
        let request: FileComplaintRequest = serde_json::from_value(complaint_json(lang)).unwrap();
        let filed = self.act(now, |conn, ctx| {
            service::file(conn, ctx, &intake::validate(request, false).unwrap(), &Acting::investor(), None)
        });
        (filed.complaint.id.clone(), filed.complaint.tracking_number.clone(), filed.access_code.clone().unwrap())
    }

    /// The investor's tracking page, opened with the number and the access code.
    pub fn tracking_page(&self, number: &str, code: &str, lang: &str) -> String {
        let form = format!("tracking_number={number}&access_code={code}");
        let opened = self.app.request(
            "POST",
            &format!("/track?lang={lang}"),
            None,
            &[],
            Some(("application/x-www-form-urlencoded", form.into_bytes())),
        );
        assert_eq!(opened.status, 303, "{}", opened.body);
        let cookie = opened
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.split(';').next().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        let page = self.app.request("GET", &format!("/track?lang={lang}"), None, &[("Cookie", &cookie)], None);
        assert_eq!(page.status, 200, "{}", page.body);
        page.body
    }

    pub fn coordinator() -> Acting {
        Acting { actor: Actor::Coordinator, user_id: Some(UserId::new("coordinator")), department_id: None }
    }

    pub fn department(id: &str) -> Acting {
        Acting {
            actor: Actor::Department,
            user_id: Some(UserId::new("clerk")),
            department_id: Some(DepartmentId::new(id)),
        }
    }

    pub fn cli(&self, args: &[&str]) -> String {
        let mut cmd = super::anshang_command(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        cmd.args(args);
        cmd.env("ANSHANG__DATABASE__URL", &self.app.database.url)
            .env("ANSHANG__SERVER__DATA_DIR", self.app.data_dir.path());
        cmd.env("ANSHANG__MAIL__SMTP_URL", format!("smtp://127.0.0.1:{}", self.sink.port()));
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A sweep then a delivery pass as of `now`; returns the sweep's output and what arrived.
    pub fn step(&self, now: &str) -> (String, Vec<ReceivedMail>) {
        let before = self.sink.messages().len();
        let swept = self.cli(&["sweep", "--once", "--simulate", "--now", now]);
        self.cli(&["mail", "deliver", "--once", "--simulate", "--now", now]);
        (swept, self.sink.messages().into_iter().skip(before).collect())
    }

    pub fn outbox(&self, status: &str) -> Vec<Value> {
        self.app
            .get(&format!("/api/v1/admin/outbox?status={status}&limit=200"), Some(&self.admin))
            .json()
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn complaint(&self, id: &ComplaintId) -> Value {
        self.app.get(&format!("/api/v1/complaints/{id}"), Some(&self.coordinator)).json()
    }
}

pub fn recipients(mails: &[ReceivedMail]) -> Vec<String> {
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}
