//! Typed settings: `config/default.toml` (embedded) < `config/<profile>.toml` < `ANSHANG__*` env vars.
//!
//! The structs deny unknown keys and have no serde defaults, so `default.toml` must name every
//! field and nothing else: a test loads it alone, which keeps the documentation and the code in step.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The documented defaults, compiled in so the binary starts from any working directory.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub complaints: ComplaintSettings,
    pub ballots: BallotSettings,
    pub calendar: CalendarSettings,
    pub clocks: ClockSettings,
    pub escalation: EscalationSettings,
    pub mail: MailSettings,
    pub assessment: crate::assessment::score::Formula,
    pub metrics: MetricsSettings,
    pub log: LogSettings,
}

// The ladder's settings belong to the ladder, which parses them; config only reads them in.
pub use crate::escalation::ladder::{EscalationSettings, RungSettings};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// Parsed once, here, into the address type the mailer uses.
    #[serde(deserialize_with = "mailbox")]
    pub from: lettre::message::Mailbox,
    pub smtp_url: String,
    pub max_attempts: u32,
    pub deliver_interval_secs: u64,
    pub staff_language: crate::complaints::model::Language,
    pub template_dir: PathBuf,
    pub investor_emails_per_address_per_day: i64,
}

/// `mail.from` as an address: `Name <noreply@example.gov.cn>` or a bare address.
fn mailbox<'de, D: serde::Deserializer<'de>>(d: D) -> Result<lettre::message::Mailbox, D::Error> {
    let raw = String::deserialize(d)?;
    raw.parse().map_err(|_| {
        serde::de::Error::custom(format!("{raw:?} must be an address such as \"Name <noreply@example.gov.cn>\""))
    })
}

// Hand-written: the SMTP URL may hold a password.
impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("from", &self.from.to_string())
            .field("smtp_url", &if self.smtp_url.is_empty() { "" } else { "<set>" })
            .field("max_attempts", &self.max_attempts)
            .field("deliver_interval_secs", &self.deliver_interval_secs)
            .field("staff_language", &self.staff_language)
            .field("template_dir", &self.template_dir)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintSettings {
    pub tracking_prefix: String,
    pub contest_window_working_days: u32,
    pub max_extension_working_days: u32,
    pub tracking_lookups_per_client_per_minute: u32,
    pub filings_per_client_per_hour: u32,
    pub attachment_dir: PathBuf,
    pub attachment_max_bytes: usize,
    pub attachment_max_count: u32,
}

impl ComplaintSettings {
    pub fn attachment_dir(&self, data_dir: &Path) -> PathBuf {
        if self.attachment_dir.as_os_str().is_empty() {
            data_dir.join("attachments")
        } else {
            self.attachment_dir.clone()
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BallotSettings {
    pub attempts_per_client_per_minute: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSettings {
    pub cutoff: crate::calendar::Cutoff,
    pub reply: ClockKindSettings,
    pub accept: ClockKindSettings,
    pub conclude: ClockKindSettings,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockKindSettings {
    pub enabled: bool,
    pub working_days: u32,
}

impl ClockKindSettings {
    /// The period when this clock is enabled.
    pub fn days_if_enabled(self) -> Option<u32> {
        self.enabled.then_some(self.working_days)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub json_limit_bytes: usize,
    pub trust_forwarded_for: bool,
    pub public_base_url: String,
    pub client_request_timeout_secs: u64,
    pub body_read_timeout_secs: u64,
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_secs: u64,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub token_ttl_minutes: i64,
    pub jwt_secret: String,
    pub jwt_secret_file: PathBuf,
    pub previous_jwt_secrets: Vec<String>,
    pub audit_key: String,
    pub audit_key_file: PathBuf,
    pub login_per_account_per_minute: u32,
    pub login_per_client_per_minute: u32,
    pub min_password_length: usize,
}

// Hand-written so the secret can never reach a log line through `{:?}`.
impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("token_ttl_minutes", &self.token_ttl_minutes)
            .field("jwt_secret", &if self.jwt_secret.is_empty() { "" } else { "<redacted>" })
            .field("jwt_secret_file", &self.jwt_secret_file)
            .field("previous_jwt_secrets", &format!("<{} redacted>", self.previous_jwt_secrets.len()))
            .field("audit_key", &if self.audit_key.is_empty() { "" } else { "<redacted>" })
            .field("audit_key_file", &self.audit_key_file)
            .field("login_per_account_per_minute", &self.login_per_account_per_minute)
            .field("login_per_client_per_minute", &self.login_per_client_per_minute)
            .field("min_password_length", &self.min_password_length)
            .finish()
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// The scraper's bearer token for /metrics; empty: admin login tokens only.
    pub token: String,
    /// IP:PORT of a listener serving only /metrics; empty: none.
    pub listen: String,
}

// Hand-written so the token can never reach a log line through `{:?}`.
impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSettings")
            .field("token", &if self.token.is_empty() { "" } else { "<redacted>" })
            .field("listen", &self.listen)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key `{key}`: {problem}")]
    Invalid { key: &'static str, problem: String },
}

/// Where to read settings from; the environment is passed in so tests need not mutate it.
#[derive(Debug, Clone, Default)]
pub struct SettingsSource {
    /// Directory holding `<profile>.toml`; `None` means `./config`.
    pub config_dir: Option<PathBuf>,
    /// Profile name (`ANSHANG_PROFILE`), e.g. `production`.
    pub profile: Option<String>,
    /// `ANSHANG__*` variables; `None` reads the process environment.
    pub env: Option<Vec<(String, String)>>,
}

impl SettingsSource {
    /// The process environment's view: `ANSHANG_CONFIG_DIR`, `ANSHANG_PROFILE`, `ANSHANG__*`.
    pub fn from_process_env() -> Self {
        SettingsSource {
            config_dir: std::env::var_os("ANSHANG_CONFIG_DIR").map(PathBuf::from),
            profile: std::env::var("ANSHANG_PROFILE").ok().filter(|p| !p.is_empty()),
            env: None,
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.config_dir.clone().unwrap_or_else(|| PathBuf::from("config"))
    }
}

impl Settings {
    pub fn load(source: &SettingsSource) -> Result<Settings, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULT_TOML, config::FileFormat::Toml));
        if let Some(profile) = &source.profile {
            if !profile.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(ConfigError::Invalid {
                    key: "ANSHANG_PROFILE",
                    problem: "a profile name uses only letters, digits, '-' and '_'".into(),
                });
            }
            let file = source.config_dir().join(format!("{profile}.toml"));
            if !file.is_file() {
                return Err(ConfigError::Invalid {
                    key: "ANSHANG_PROFILE",
                    problem: format!("profile file {} does not exist", file.display()),
                });
            }
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        let mut env = config::Environment::with_prefix("ANSHANG")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("auth.previous_jwt_secrets");
        if let Some(vars) = &source.env {
            env = env.source(Some(vars.iter().cloned().collect()));
        }
        let settings: Settings = builder.add_source(env).build()?.try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks that types alone cannot express; each message names the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, problem: &str| Err(ConfigError::Invalid { key, problem: problem.into() });
        if self.server.bind.parse::<std::net::IpAddr>().is_err() && self.server.bind != "localhost" {
            return invalid("server.bind", "must be an IP address such as 127.0.0.1 or 0.0.0.0");
        }
        if self.mail.staff_language.for_staff() != self.mail.staff_language {
            return invalid("mail.staff_language", "staff emails are written in \"zh\" or \"en\"");
        }
        if !(1..=300).contains(&self.server.client_request_timeout_secs) {
            return invalid("server.client_request_timeout_secs", "must be between 1 and 300");
        }
        if !(1..=3600).contains(&self.server.body_read_timeout_secs) {
            return invalid("server.body_read_timeout_secs", "must be between 1 and 3600");
        }
        if self.server.shutdown_timeout_secs > 600 {
            return invalid("server.shutdown_timeout_secs", "must be at most 600");
        }
        if self.server.json_limit_bytes < 1024 || self.server.json_limit_bytes > 16 * 1024 * 1024 {
            return invalid("server.json_limit_bytes", "must be between 1024 and 16777216");
        }
        if !(self.server.public_base_url.starts_with("http://") || self.server.public_base_url.starts_with("https://"))
        {
            return invalid("server.public_base_url", "must start with http:// or https://");
        }
        if let Err(problem) = crate::db::DatabaseUrl::parse(&self.database.url, &self.server.data_dir) {
            return Err(ConfigError::Invalid { key: "database.url", problem: problem.to_string() });
        }
        if self.database.pool_size == 0 || self.database.pool_size > 256 {
            return invalid("database.pool_size", "must be between 1 and 256");
        }
        if self.database.connect_timeout_secs == 0 {
            return invalid("database.connect_timeout_secs", "must be at least 1");
        }
        if !(1..=24 * 60).contains(&self.auth.token_ttl_minutes) {
            return invalid("auth.token_ttl_minutes", "must be between 1 and 1440");
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            return invalid("auth.jwt_secret", "must be at least 32 bytes long");
        }
        if !self.auth.audit_key.is_empty() && self.auth.audit_key.len() < 32 {
            return invalid("auth.audit_key", "must be at least 32 bytes long");
        }
        if self.auth.previous_jwt_secrets.iter().any(|s| s.len() < 32) {
            return invalid("auth.previous_jwt_secrets", "each secret must be at least 32 bytes long");
        }
        if self.auth.login_per_account_per_minute == 0 || self.auth.login_per_client_per_minute == 0 {
            return invalid("auth.login_per_account_per_minute", "login limits must be at least 1");
        }
        if !self.metrics.token.is_empty() && self.metrics.token.len() < 32 {
            return invalid("metrics.token", "must be at least 32 bytes long");
        }
        if !self.metrics.listen.is_empty() && self.metrics.listen.parse::<std::net::SocketAddr>().is_err() {
            return invalid("metrics.listen", "must be IP:PORT such as 127.0.0.1:9464, or empty");
        }
        if self.auth.min_password_length < 10 {
            return invalid("auth.min_password_length", "must be at least 10");
        }
        let prefix = &self.complaints.tracking_prefix;
        if prefix.is_empty() || prefix.len() > 8 || !prefix.chars().all(|c| c.is_ascii_uppercase()) {
            return invalid("complaints.tracking_prefix", "must be 1–8 upper-case letters A–Z");
        }
        if !(1..=60).contains(&self.complaints.contest_window_working_days) {
            return invalid("complaints.contest_window_working_days", "must be between 1 and 60");
        }
        if !(1..=120).contains(&self.complaints.max_extension_working_days) {
            return invalid("complaints.max_extension_working_days", "must be between 1 and 120");
        }
        if self.complaints.tracking_lookups_per_client_per_minute == 0
            || self.complaints.filings_per_client_per_hour == 0
        {
            return invalid("complaints.tracking_lookups_per_client_per_minute", "rate limits must be at least 1");
        }
        if !(1024..=100 * 1024 * 1024).contains(&self.complaints.attachment_max_bytes) {
            return invalid("complaints.attachment_max_bytes", "must be between 1024 and 104857600");
        }
        if !(1..=100).contains(&self.complaints.attachment_max_count) {
            return invalid("complaints.attachment_max_count", "must be between 1 and 100");
        }
        if self.ballots.attempts_per_client_per_minute == 0 {
            return invalid("ballots.attempts_per_client_per_minute", "must be at least 1");
        }
        if !self.clocks.reply.enabled {
            return invalid("clocks.reply.enabled", "the reply clock is the city's rule and cannot be switched off");
        }
        for (key, clock) in [
            ("clocks.reply.working_days", self.clocks.reply),
            ("clocks.accept.working_days", self.clocks.accept),
            ("clocks.conclude.working_days", self.clocks.conclude),
        ] {
            if !(1..=120).contains(&clock.working_days) {
                return invalid(key, "must be between 1 and 120");
            }
        }
        if let Err(problem) = crate::escalation::ladder::Ladder::from_settings(&self.escalation) {
            return Err(ConfigError::Invalid { key: "escalation", problem: problem.to_string() });
        }
        if self.escalation.sweep_interval_secs == 0 || self.mail.deliver_interval_secs == 0 {
            return invalid("escalation.sweep_interval_secs", "intervals must be at least 1 second");
        }
        let smtp = &self.mail.smtp_url;
        let file_mail = smtp.is_empty();
        if !(file_mail || smtp.starts_with("smtp://") || smtp.starts_with("smtps://")) {
            return invalid("mail.smtp_url", "must start with smtp:// or smtps:// (or be empty for .eml files)");
        }
        if let Err(problem) = self.assessment.validate() {
            return Err(ConfigError::Invalid { key: "assessment", problem: problem.to_string() });
        }
        if !(1..=1000).contains(&self.mail.investor_emails_per_address_per_day) {
            return invalid("mail.investor_emails_per_address_per_day", "must be between 1 and 1000");
        }
        if !(1..=50).contains(&self.mail.max_attempts) {
            return invalid("mail.max_attempts", "must be between 1 and 50");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return invalid("log.level", "is not a valid log filter (try \"info\")");
        }
        Ok(())
    }

    pub fn data_dir(&self) -> &Path {
        &self.server.data_dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::load(&SettingsSource {
            env: Some(env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            ..Default::default()
        })
    }

    #[test]
    fn documented_defaults_cover_every_field() {
        // No serde defaults + deny_unknown_fields: this fails if a key is missing or stale.
        let s = load_with(&[]).expect("default.toml must load on its own");
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.server.bind, "127.0.0.1");
        assert_eq!(s.database.url, "");
    }

    #[test]
    fn every_documented_key_has_a_comment() {
        let lines: Vec<&str> = DEFAULT_TOML.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with('[') {
                continue;
            }
            assert!(i > 0 && lines[i - 1].trim_start().starts_with('#'), "key without comment: {t}");
        }
    }

    #[test]
    fn env_overrides_and_names_bad_keys() {
        let s = load_with(&[("ANSHANG__SERVER__PORT", "9090")]).unwrap();
        assert_eq!(s.server.port, 9090);
        let err = load_with(&[("ANSHANG__SERVER__PORT", "eighty")]).unwrap_err().to_string();
        assert!(err.contains("port"), "{err}");
        let err = load_with(&[("ANSHANG__SERVER__PROT", "1")]).unwrap_err().to_string();
        assert!(err.contains("prot"), "{err}");
        let err = load_with(&[("ANSHANG__DATABASE__URL", "mysql://x")]).unwrap_err().to_string();
        assert!(err.contains("database.url"), "{err}");
        let err = load_with(&[("ANSHANG__CLOCKS__REPLY__ENABLED", "false")]).unwrap_err().to_string();
        assert!(err.contains("clocks.reply.enabled"), "{err}");
        let err = load_with(&[("ANSHANG__CLOCKS__CUTOFF", "25:00")]).unwrap_err().to_string();
        assert!(err.contains("cutoff"), "{err}");
        let s =
            load_with(&[("ANSHANG__CLOCKS__CUTOFF", "17:30"), ("ANSHANG__CLOCKS__ACCEPT__ENABLED", "true")]).unwrap();
        assert_eq!(s.clocks.cutoff.to_string(), "17:30");
        assert_eq!(s.clocks.accept.days_if_enabled(), Some(7));
        let err = load_with(&[("ANSHANG__MAIL__STAFF_LANGUAGE", "zh-Hant")]).unwrap_err().to_string();
        assert!(err.contains("mail.staff_language"), "{err}");
    }

    #[test]
    fn previous_secrets_come_from_a_comma_list() {
        let a = "a".repeat(32);
        let b = "b".repeat(40);
        let s = load_with(&[("ANSHANG__AUTH__PREVIOUS_JWT_SECRETS", &format!("{a},{b}"))]).unwrap();
        assert_eq!(s.auth.previous_jwt_secrets, vec![a, b]);
        assert!(load_with(&[("ANSHANG__AUTH__PREVIOUS_JWT_SECRETS", "short")])
            .unwrap_err()
            .to_string()
            .contains("previous_jwt_secrets"));
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let s = load_with(&[("ANSHANG__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef-secret")]).unwrap();
        let shown = format!("{:?}", s);
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }

    #[test]
    fn the_metrics_token_is_redacted_and_checked() {
        let token = "metrics-0123456789abcdef0123456789abcdef";
        let s =
            load_with(&[("ANSHANG__METRICS__TOKEN", token), ("ANSHANG__METRICS__LISTEN", "127.0.0.1:9464")]).unwrap();
        assert_eq!(s.metrics.token, token);
        let shown = format!("{:?}", s);
        assert!(!shown.contains(token) && shown.contains("127.0.0.1:9464"), "{shown}");
        assert!(load_with(&[("ANSHANG__METRICS__TOKEN", "short")]).is_err());
        assert!(load_with(&[("ANSHANG__METRICS__LISTEN", "localhost")]).is_err());
    }
}
