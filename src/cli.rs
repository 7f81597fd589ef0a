//! The command line: `anshang serve | migrate | users | demo`. `main.rs` only calls `run`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::Application;
use crate::auth::users::{self, AccountRequest};
use crate::auth::Role;
use crate::config::{Settings, SettingsSource};
use crate::db;
use crate::ids::RoundId;
use crate::state::open_database;

#[derive(Parser, Debug)]
#[command(
    name = "anshang",
    version,
    about = "Investor complaints with a legal response clock, and anonymous conduct ballots"
)]
pub struct Cli {
    /// Directory for the SQLite database, the JWT key and the mail outbox (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the web pages and the API.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage staff accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Demo data.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// The working-day calendar and deadlines.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// The complaints' audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Take the escalation rungs that have fallen due (and close expired replies and the ballot
    /// rounds whose closing time has come).
    Sweep {
        /// One pass, then exit (otherwise: sweep on the configured interval until stopped).
        #[arg(long)]
        once: bool,
        /// Sweep as if the clock read this RFC 3339 instant (at most a minute ahead of the real
        /// clock unless --simulate is given).
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Allow a --now in the future: for tests and drills on a copy of the data only (a
        /// future sweep permanently records breaches and sends escalations that have not happened).
        #[arg(long, requires = "now")]
        simulate: bool,
    },
    /// Email.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Conduct ballots.
    #[command(subcommand)]
    Ballots(BallotsCommand),
    /// Reports.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Ask a running `serve` on this host whether it is alive (`GET /healthz` on
    /// 127.0.0.1 at the configured port, or --port): exit 0 if it answers 200 within 3 s. For
    /// container health checks, so the image needs no curl.
    Healthcheck {
        #[arg(long)]
        port: Option<u16>,
    },
    /// Online backup of a SQLite installation into a new directory DIR: the database (checked
    /// with PRAGMA integrity_check; the uploaded files are inside it), the audit and token keys and
    /// a manifest (PostgreSQL: use pg_dump, see docs/operations.md).
    Backup {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Restore a backup made by `anshang backup` into an empty data directory (checks the
    /// manifest's checksums, the audit key and PRAGMA integrity_check; overwrites nothing).
    Restore {
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The yearly department assessment (the finalised snapshot, or computed now).
    Assessment {
        #[arg(long)]
        year: i32,
        /// csv (UTF-8 with BOM), json, or html (printable, with charts).
        #[arg(long, default_value = "html", value_parser = ["csv", "json", "html"])]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum BallotsCommand {
    /// Issue codes to everyone on the round's roll without one: paper letters are written to
    /// DIR (letters.html to print, letters.csv for mail merge); emailed codes are queued.
    IssueCodes {
        round: String,
        /// Directory for the printable letters (created, readable by its owner only).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Open a draft round for voting; prints the shares of the round key, one per trustee, once.
    Open { round: String },
    /// Close voting (the stored rows are rewritten in random order; ballots stay sealed).
    Close { round: String },
    /// Open a closed round's sealed ballots with the trustees' key shares, read from standard
    /// input one per line (never from the command line, where other users of the host see it).
    Unseal { round: String },
    /// Publish results and bulletin.
    Publish { round: String },
    /// Recount a published bulletin (JSON from GET /api/v1/ballots/{round}/bulletin) without
    /// the database; exits non-zero if the tally does not match the listed ballots.
    Verify { bulletin: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum MailCommand {
    /// Send the outbox's due messages.
    Deliver {
        /// One pass, then exit (otherwise: deliver on the configured interval until stopped).
        #[arg(long)]
        once: bool,
        /// Deliver as if the clock read this RFC 3339 instant (messages deferred to working hours);
        /// at most a minute ahead of the real clock unless --simulate is given.
        #[arg(long, value_name = "RFC3339")]
        now: Option<String>,
        /// Allow a --now in the future: for tests and drills only.
        #[arg(long, requires = "now")]
        simulate: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum CalendarCommand {
    /// Print when clocks received at these instants are due, one line per instant.
    Due {
        /// Working days (default: the reply clock).
        #[arg(long)]
        days: Option<u32>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// RFC 3339 instants, any offset (e.g. 2026-09-30T17:00:00+08:00, 2021-12-31T16:00:00Z).
        #[arg(required = true, value_name = "RECEIVED")]
        received: Vec<String>,
    },
    /// Explain day by day how the due date of a clock received at this instant is reached.
    Explain {
        #[arg(long)]
        days: Option<u32>,
        #[arg(long)]
        json: bool,
        #[arg(value_name = "RECEIVED")]
        received: String,
    },
    /// Validate all calendar data: shipped, files and years stored in the database.
    Check,
    /// Print one year's off days and make-up workdays.
    Show {
        year: i32,
        #[arg(long)]
        json: bool,
    },
    /// Validate and store an official year (TOML) in the database; open clocks are recomputed.
    Load {
        file: PathBuf,
        /// Report which open deadlines would move, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check every complaint's chain and the admin log's (HMAC-SHA256 under the audit key);
    /// exits non-zero when any does not verify.
    Verify,
    /// Seal a trail written before it was keyed (the start that upgrades the database does this
    /// by itself): chains that verify under the old recipe are re-sealed under the audit key,
    /// the admin log is chained, and the re-seal is logged. Does nothing once sealed.
    Reseal,
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on (config: server.bind).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Port to listen on (config: server.port).
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Load config/demo.toml: the city's departments and one account per role (config: server.demo).
    #[arg(long)]
    pub demo: bool,
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create an account; prints a one-time password unless --password-stdin is given.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Display name (defaults to the email address).
        #[arg(long)]
        name: Option<String>,
        /// Department code, for department staff (e.g. drc).
        #[arg(long, value_name = "CODE")]
        department: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
}

#[derive(Subcommand, Debug)]
pub enum DemoCommand {
    /// Load config/demo.toml (idempotent).
    Load,
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "one of operator, department, coordinator, commission, admin".to_string())
}

/// Loads settings from files and environment, then applies the command-line overrides.
pub fn settings_for(cli: &Cli) -> Result<Settings, crate::config::ConfigError> {
    let mut settings = Settings::load(&SettingsSource::from_process_env())?;
    if let Some(dir) = &cli.data_dir {
        settings.server.data_dir = dir.clone();
    }
    if let Command::Serve(args) = &cli.command {
        if let Some(bind) = &args.bind {
            settings.server.bind = bind.clone();
        }
        if let Some(port) = args.port {
            settings.server.port = port;
        }
        settings.server.demo |= args.demo;
    }
    settings.validate()?;
    Ok(settings)
}

pub fn run(cli: Cli) -> ExitCode {
    let settings = match settings_for(&cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("anshang: {e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log);
    let result = match cli.command {
        Command::Serve(_) => serve(settings),
        Command::Migrate => {
            open_database(&settings).map(|_| println!("database is migrated")).map_err(|e| e.to_string())
        }
        Command::Users(cmd) => users_command(&settings, cmd),
        Command::Demo(DemoCommand::Load) => demo_load(&settings),
        Command::Calendar(cmd) => calendar_command(&settings, cmd),
        Command::Audit(AuditCommand::Verify) => audit_verify(&settings),
        Command::Audit(AuditCommand::Reseal) => audit_reseal(&settings),
        Command::Sweep { once, now, simulate } => worker_command(settings, Worker::Sweep, once, now, simulate),
        Command::Mail(MailCommand::Deliver { once, now, simulate }) => {
            worker_command(settings, Worker::Deliver, once, now, simulate)
        }
        Command::Ballots(cmd) => ballots_command(&settings, cmd),
        Command::Report(ReportCommand::Assessment { year, format, out }) => {
            report_assessment(&settings, year, &format, out)
        }
        Command::Backup { out } => crate::backup::write(&settings, &out)
            .map(|s| println!("backup written to {} and verified: {s}", out.display()))
            .map_err(|e| e.to_string()),
        Command::Restore { from } => crate::backup::restore(&settings, &from)
            .map(|s| println!("restored into {}: {s}", settings.data_dir().display()))
            .map_err(|e| e.to_string()),
        Command::Healthcheck { port } => healthcheck(port.unwrap_or(settings.server.port)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("anshang: {message}");
            ExitCode::FAILURE
        }
    }
}

/// One `GET /healthz` over plain HTTP/1.0 to this host: the status line must say 200.
fn healthcheck(port: u16) -> Result<(), String> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(3);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{addr}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| e.to_string())?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| format!("{addr}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).map_err(|e| format!("{addr}: {e}"))?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    let status_line = status_line.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) == Some("200") {
        println!("healthy");
        Ok(())
    } else {
        Err(format!("{addr}/healthz answered {status_line:?}"))
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    let settings_public_url = settings.server.public_base_url.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| e.to_string())?;
        if let Some(password) = &app.bootstrap_password {
            println!(
                "anshang: created the first administrator account\n  email:    {}\n  password: {password}\n  (one-time: change it at first sign-in; it is not shown again)",
                crate::bootstrap::BOOTSTRAP_ADMIN_EMAIL
            );
        }
        if let Some(warning) = public_url_mismatch(&settings_public_url, app.port()) {
            // The log line names no address (logs are kept and shipped; the terminal says it all).
            tracing::warn!(listening_port = app.port(), "server.public_base_url names this machine on another port: email links will not reach this instance");
            println!("anshang: warning: {warning}");
        }
        tracing::info!(port = app.port(), "serving");
        // Printed after any bootstrap lines: scripts wait for it.
        println!("anshang: listening on port {}", app.port());
        app.run().await.map_err(|e| e.to_string())
    })
}

/// Every link in every email starts with `server.public_base_url`. When it names this machine
/// (a loopback host) but another port than the one served, every link points elsewhere. A public
/// host name is left alone: a proxy may well listen on another port.
fn public_url_mismatch(public_base_url: &str, listening_port: u16) -> Option<String> {
    let (scheme, rest) = public_base_url.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, p.parse::<u16>().ok()?),
        _ => (authority, if scheme == "https" { 443 } else { 80 }),
    };
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]") || host.starts_with("127.");
    (loopback && port != listening_port).then(|| {
        format!("server.public_base_url is {public_base_url} but this instance listens on port {listening_port}: links in emails will not reach it (set ANSHANG__SERVER__PUBLIC_BASE_URL)")
    })
}

fn users_command(settings: &Settings, cmd: UsersCommand) -> Result<(), String> {
    let pool = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    match cmd {
        UsersCommand::Create { email, role, name, department, password_stdin } => {
            let password = if password_stdin {
                let mut p = String::new();
                std::io::stdin().read_to_string(&mut p).map_err(|e| format!("reading the password: {e}"))?;
                Some(p.trim_end_matches(['\n', '\r']).to_string())
            } else {
                None
            };
            let department_id = match department {
                Some(code) => Some(
                    crate::departments::store::find_by_code(&mut conn, &code)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("no department with code {code}"))?
                        .id,
                ),
                None => None,
            };
            let display = name.unwrap_or_else(|| email.clone());
            let req = AccountRequest::parse(
                &email,
                &display,
                role,
                department_id,
                password,
                settings.auth.min_password_length,
            )
            .map_err(describe_api_error)?;
            let (user, generated) = users::create(&mut conn, &req, None, db::now()).map_err(describe_api_error)?;
            println!("created {} ({})", user.email, user.role);
            if let Some(p) = generated {
                println!("one-time password: {p}\n(it must be changed at first sign-in and is not shown again)");
            }
            Ok(())
        }
        UsersCommand::List => {
            for u in users::list(&mut conn).map_err(|e| e.to_string())? {
                println!("{}\t{}\t{}", u.email, u.role, if u.active { "active" } else { "inactive" });
            }
            Ok(())
        }
    }
}

fn demo_load(settings: &Settings) -> Result<(), String> {
    let pool = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let loaded = crate::demo::load(&mut conn, db::now()).map_err(describe_api_error)?;
    println!("demo data: {} departments and {} accounts created", loaded.departments_created, loaded.users_created);
    Ok(())
}

/// Turns an API error into a line for the terminal, listing invalid fields.
fn describe_api_error(e: impl Into<crate::error::ApiError>) -> String {
    match e.into() {
        crate::error::ApiError::Invalid(fields) => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
        }
        crate::error::ApiError::Internal(cause) => format!("{cause:#}"),
        other => other.to_string(),
    }
}

/// The calendar as the service sees it; the database is read only if it already exists, so a
/// deadline question never creates one.
fn cli_calendar(settings: &Settings) -> Result<crate::calendar::WorkingCalendar, String> {
    let url = db::DatabaseUrl::parse(&settings.database.url, settings.data_dir()).map_err(|e| e.to_string())?;
    let use_db = match &url {
        db::DatabaseUrl::Sqlite(path) => path.exists(),
        db::DatabaseUrl::Postgres(_) => true,
    };
    if use_db {
        let pool = open_database(settings).map_err(|e| e.to_string())?;
        let mut conn = pool.get().map_err(|e| e.to_string())?;
        crate::calendar::runtime::build(&settings.calendar.dir, Some(&mut conn)).map_err(|e| e.to_string())
    } else {
        crate::calendar::runtime::build(&settings.calendar.dir, None).map_err(|e| e.to_string())
    }
}

fn calendar_command(settings: &Settings, cmd: CalendarCommand) -> Result<(), String> {
    use crate::calendar::runtime::{due_answer, parse_instant};
    let days_or_default = |d: Option<u32>| -> Result<u32, String> {
        let days = d.unwrap_or(settings.clocks.reply.working_days);
        if (1..=120).contains(&days) {
            Ok(days)
        } else {
            Err("--days must be between 1 and 120".into())
        }
    };
    match cmd {
        CalendarCommand::Due { days, json, received } => {
            let days = days_or_default(days)?;
            let instants =
                received.iter().map(|r| parse_instant(r)).collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
            let cal = cli_calendar(settings)?;
            for instant in instants {
                let a = due_answer(&cal, instant, days, settings.clocks.cutoff);
                if json {
                    let line = serde_json::json!({
                        "received": a.received.to_rfc3339(),
                        "working_days": a.working_days,
                        "due_date": a.due_date.to_string(),
                        "due_at": a.due_at.to_rfc3339(),
                        "provisional": a.provisional,
                    });
                    println!("{line}");
                } else {
                    let flag =
                        if a.provisional { "  (provisional: no official notice for a year it touches)" } else { "" };
                    println!(
                        "{}  ->  due {} (until {}){flag}",
                        a.received.to_rfc3339(),
                        a.due_date,
                        a.due_at.to_rfc3339()
                    );
                }
            }
            Ok(())
        }
        CalendarCommand::Explain { days, json, received } => {
            let days = days_or_default(days)?;
            let instant = parse_instant(&received).map_err(|e| e.to_string())?;
            let cal = cli_calendar(settings)?;
            let a = due_answer(&cal, instant, days, settings.clocks.cutoff);
            if json {
                println!("{}", serde_json::to_string_pretty(&a.explanation).map_err(|e| e.to_string())?);
                return Ok(());
            }
            let e = &a.explanation;
            println!(
                "received {} (local date {}): {}",
                e.received_at.to_rfc3339(),
                e.receipt_date,
                e.receipt_day_not_counted_reason.en
            );
            for day in &e.days {
                let why = match &day.reason {
                    crate::calendar::DayReason::Counted => "working day".to_string(),
                    crate::calendar::DayReason::CountedMakeupWorkday { for_en, for_zh } => {
                        format!("make-up workday ({for_en} / {for_zh})")
                    }
                    crate::calendar::DayReason::Weekend => "weekend".to_string(),
                    crate::calendar::DayReason::Holiday { name_en, name_zh } => {
                        format!("holiday: {name_en} / {name_zh}")
                    }
                    crate::calendar::DayReason::Paused => "paused".to_string(),
                };
                match day.ordinal {
                    Some(n) => println!("  {} {}  day {n}: {why}", day.date, day.date.format("%a")),
                    None => println!("  {} {}  skipped: {why}", day.date, day.date.format("%a")),
                }
            }
            println!(
                "due {} — until {}{}",
                e.due_date,
                e.due_at.to_rfc3339(),
                if e.provisional { " (provisional)" } else { "" }
            );
            for v in &e.calendar_versions {
                println!(
                    "  calendar {} version {}{}",
                    v.year,
                    v.version,
                    if v.provisional { " (provisional)" } else { "" }
                );
            }
            Ok(())
        }
        CalendarCommand::Check => {
            let cal = cli_calendar(settings)?;
            let years = crate::calendar::runtime::SHIPPED.len();
            let files = crate::calendar::runtime::file_years(&settings.calendar.dir).map_err(|e| e.to_string())?.len();
            let now = db::now();
            println!(
                "calendar data valid: {years} shipped years, {files} files in {}",
                settings.calendar.dir.display()
            );
            for w in crate::calendar::runtime::provisional_warnings(&cal, now) {
                println!("warning: {w}");
            }
            Ok(())
        }
        CalendarCommand::Show { year, json } => {
            let cal = cli_calendar(settings)?;
            let data = cal.year(year).ok_or_else(|| format!("the calendar does not cover {year}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(data).map_err(|e| e.to_string())?);
            } else {
                println!(
                    "{} {} — {}{}",
                    year,
                    data.notice.title,
                    data.notice.title_en,
                    if data.provisional { " (PROVISIONAL)" } else { "" }
                );
                println!("version {}", data.version());
                for d in &data.off_days {
                    println!("  off      {} {}  {} / {}", d.date, d.date.format("%a"), d.name_zh, d.name_en);
                }
                for d in &data.makeup_workdays {
                    println!("  make-up  {} {}  {} / {}", d.date, d.date.format("%a"), d.for_zh, d.for_en);
                }
            }
            Ok(())
        }
        CalendarCommand::Load { file, dry_run } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let year =
                crate::calendar::CalendarYear::from_toml_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            if year.provisional {
                return Err("only official data can be loaded (the file says provisional = true)".into());
            }
            let pool = open_database(settings).map_err(|e| e.to_string())?;
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            let rules = crate::complaints::context::Rules::from_settings(settings).map_err(|e| e.to_string())?;
            let load = crate::complaints::service::load_official_year(
                &mut conn,
                &rules,
                &settings.calendar.dir,
                &year,
                None,
                db::now(),
                dry_run,
            )
            .map_err(describe_api_error)?;
            let verb = if dry_run { "would move" } else { "moved" };
            println!("{} open deadline(s) {verb}:", load.moved.len());
            for m in &load.moved {
                let department = m.department.as_ref().map(|d| d.name_zh.as_str()).unwrap_or("-");
                println!(
                    "  {}\t{}\t{} -> {}\t{department}",
                    m.tracking_number,
                    m.clock,
                    m.previous_due_at.format("%Y-%m-%d %H:%M"),
                    m.due_at.format("%Y-%m-%d %H:%M")
                );
            }
            if dry_run {
                println!("dry run: calendar {} (version {}) not stored; nothing changed", year.year, year.version());
            } else {
                println!("stored calendar {} (version {}); {} open clocks changed; investors and departments told of moved deadlines", year.year, year.version(), load.clocks_recomputed);
                println!("running instances pick it up within a minute");
            }
            Ok(())
        }
    }
}

fn audit_reseal(settings: &Settings) -> Result<(), String> {
    let pool = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    if crate::state::seal_audit_trail(&mut conn, true).map_err(|e| e.to_string())? {
        println!("audit trail re-sealed under the audit key (see the admin log's audit.reseal entry)");
    } else {
        println!("audit trail already sealed; nothing to do");
    }
    Ok(())
}

fn audit_verify(settings: &Settings) -> Result<(), String> {
    let pool = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let (checked, breaks) = crate::complaints::events::verify_all(&mut conn).map_err(|e| e.to_string())?;
    let (admin_checked, admin_break) = crate::admin_log::verify(&mut conn).map_err(|e| e.to_string())?;
    if breaks.is_empty() && admin_break.is_none() {
        println!("audit trail intact: {checked} complaint events and {admin_checked} admin log entries verified");
        return Ok(());
    }
    for b in &breaks {
        let number = crate::complaints::store::find(&mut conn, &crate::ids::ComplaintId::new(b.complaint_id.clone()))
            .ok()
            .flatten()
            .map(|c| c.tracking_number)
            .unwrap_or_else(|| "(unknown number)".into());
        println!("TAMPERED complaint {number} (id {}) at event {}: {}", b.complaint_id, b.seq, b.problem);
    }
    if let Some((seq, problem)) = &admin_break {
        println!("TAMPERED admin log at entry {seq}: {problem}");
    }
    Err(format!(
        "{} of the complaints' audit trails{} do not verify ({checked} events, {admin_checked} admin log entries read)",
        breaks.len(),
        if admin_break.is_some() { " and the admin log" } else { "" }
    ))
}

enum Worker {
    Sweep,
    Deliver,
}

/// `anshang sweep` and `anshang mail deliver`: the same code `serve` runs in the background.
fn worker_command(
    settings: Settings,
    worker: Worker,
    once: bool,
    now: Option<String>,
    simulate: bool,
) -> Result<(), String> {
    let now = now.as_deref().map(crate::calendar::runtime::parse_instant).transpose().map_err(|e| e.to_string())?;
    if now.is_some() && !once {
        return Err("--now goes with --once".into());
    }
    if let Some(at) = now {
        check_simulated_instant(at, crate::db::now(), simulate)?;
    }
    actix_web::rt::System::new().block_on(async move {
        let state = crate::state::worker_state(settings).map_err(|e| e.to_string())?;
        let interval = match worker {
            Worker::Sweep => state.settings.escalation.sweep_interval_secs,
            Worker::Deliver => state.settings.mail.deliver_interval_secs,
        };
        loop {
            match worker {
                Worker::Sweep => {
                    let r = crate::escalation::worker::sweep(&state, now).await.map_err(describe_api_error)?;
                    for (number, step) in &r.taken {
                        println!("{number}\t{step}");
                    }
                    println!("sweep: {} rungs taken, {} replies closed", r.taken.len(), r.auto_closed);
                    let closed =
                        crate::ballots::worker::close_due_rounds(&state, now).await.map_err(describe_api_error)?;
                    for id in &closed {
                        println!("ballot round {id} closed at its closing time");
                    }
                }
                Worker::Deliver => {
                    let r = crate::mail::worker::deliver(&state, now).await.map_err(describe_api_error)?;
                    println!(
                        "mail: {} sent, {} to retry, {} failed, {} cancelled",
                        r.sent, r.retrying, r.failed, r.cancelled
                    );
                }
            }
            if once {
                return Ok(());
            }
            actix_web::rt::time::sleep(std::time::Duration::from_secs(interval)).await;
        }
    })
}

/// How far ahead of the real clock `--now` may be without `--simulate` (clock skew, a slow start).
const NOW_TOLERANCE: chrono::Duration = chrono::Duration::minutes(1);

/// A sweep or delivery "in the future" acts on breaches that have not happened: refused unless
/// the operator says it is a simulation.
fn check_simulated_instant(
    at: chrono::DateTime<chrono::Utc>,
    real_now: chrono::DateTime<chrono::Utc>,
    simulate: bool,
) -> Result<(), String> {
    if !simulate && at > real_now + NOW_TOLERANCE {
        return Err(format!(
            "--now {} is in the future (it is {} now): a future sweep records breaches and sends escalations that have not happened. Add --simulate only for tests and drills on a copy of the data.",
            at.with_timezone(&crate::calendar::shanghai()).to_rfc3339(),
            real_now.with_timezone(&crate::calendar::shanghai()).format("%Y-%m-%d %H:%M Beijing time")
        ));
    }
    Ok(())
}

fn ballots_command(settings: &Settings, cmd: BallotsCommand) -> Result<(), String> {
    use crate::ballots::model::RoundStatus;
    if let BallotsCommand::Verify { bulletin } = &cmd {
        let text = std::fs::read_to_string(bulletin).map_err(|e| format!("{}: {e}", bulletin.display()))?;
        let b: crate::ballots::bulletin::Bulletin =
            serde_json::from_str(&text).map_err(|e| format!("{}: not a bulletin: {e}", bulletin.display()))?;
        let counted = crate::ballots::bulletin::verify(&b).map_err(|e| format!("bulletin does NOT verify: {e}"))?;
        println!(
            "bulletin verifies: {counted} answer counts recounted, {} receipts, tally of {} departments matches",
            b.receipts.len(),
            b.tally.len()
        );
        return Ok(());
    }
    let pool = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    match cmd {
        BallotsCommand::IssueCodes { round, out } => {
            let rules = crate::complaints::context::Rules::from_settings(settings).map_err(|e| e.to_string())?;
            let deliverable = crate::ballots::service::email_deliverable(settings);
            let issued = issue_codes_with_letters(&mut conn, &round, &rules.notices, deliverable, "cli", &out)
                .map_err(describe_api_error)?;
            println!(
                "{} paper letters written to {} (print, seal, hand out, then delete the files); {} emails queued",
                issued.letters.len(),
                out.display(),
                issued.emailed
            );
            Ok(())
        }
        BallotsCommand::Open { round } => advance_round(&mut conn, &round, RoundStatus::Open),
        BallotsCommand::Close { round } => advance_round(&mut conn, &round, RoundStatus::Closed),
        BallotsCommand::Publish { round } => advance_round(&mut conn, &round, RoundStatus::Published),
        BallotsCommand::Unseal { round } => unseal_round(&mut conn, &round),
        BallotsCommand::Verify { .. } => unreachable!("handled above"),
    }
}

fn advance_round(
    conn: &mut db::DbConnection,
    round: &str,
    to: crate::ballots::model::RoundStatus,
) -> Result<(), String> {
    let r = crate::ballots::service::advance(conn, &RoundId::new(round), to, "cli", db::now())
        .map_err(describe_api_error)?;
    println!("round {} is now {}", r.round.id, r.round.status);
    if let Some(shares) = r.key_shares {
        println!(
            "key shares: give one to each of the {} trustees; any {} of them open the ballots after close. They are shown this once and kept nowhere:",
            r.round.trustees, r.round.threshold
        );
        for s in shares {
            println!("{s}");
        }
    }
    Ok(())
}

fn unseal_round(conn: &mut db::DbConnection, round: &str) -> Result<(), String> {
    use std::io::Read;
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| format!("reading the key shares: {e}"))?;
    let shares: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    let r = crate::ballots::service::unseal(conn, &RoundId::new(round), &shares, "cli", db::now())
        .map_err(describe_api_error)?;
    println!("round {}: ballots opened; the sealed copies and the round key are gone", r.id);
    Ok(())
}

/// Issues the round's codes and writes the paper letters before the codes are committed: if the
/// letters cannot be written, no code is issued (a committed code whose letter was lost could
/// never be handed out).
fn issue_codes_with_letters(
    conn: &mut db::DbConnection,
    round_id: &str,
    notices: &crate::complaints::notices::Notices,
    email_deliverable: bool,
    actor: &str,
    dir: &std::path::Path,
) -> Result<crate::ballots::service::Issued, crate::error::ApiError> {
    use diesel::Connection;
    conn.transaction(|conn| {
        db::write_lock(conn)?;
        let round_id = &RoundId::new(round_id);
        let round = crate::ballots::service::find(conn, round_id)?;
        let issued =
            crate::ballots::service::issue_codes(conn, round_id, notices, email_deliverable, actor, db::now())?;
        if !issued.letters.is_empty() {
            write_letters(dir, &round.title, &issued.letters)
                .map_err(|e| crate::error::ApiError::internal("writing the letters", e))?;
        }
        Ok(issued)
    })
}

/// letters.html (one A4 page per letter) and letters.csv, in a directory only its owner reads.
/// Existing files are never overwritten.
fn write_letters(
    dir: &std::path::Path,
    title: &str,
    letters: &[crate::ballots::service::Letter],
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
    }
    let html = crate::ballots::letters::letters("zh-Hans", title, letters, None).map_err(describe_api_error)?;
    let mut csv = crate::csv_export::Sheet::plain();
    csv.row(["name", "code", "departments", "language", "vote_link", "closes_at_beijing"])
        .map_err(|e| e.to_string())?;
    for l in letters {
        let names: Vec<&str> = l.departments.iter().map(|d| d.name_in(l.language)).collect();
        csv.row([
            l.name.as_str(),
            l.code.as_str(),
            names.join("; ").as_str(),
            l.language.as_str(),
            l.vote_link.as_str(),
            l.closes_at.as_str(),
        ])
        .map_err(|e| e.to_string())?;
    }
    let write = |name: &str, bytes: &[u8]| -> Result<(), String> {
        let path = dir.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        use std::io::Write;
        options.open(&path).and_then(|mut f| f.write_all(bytes)).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("letters.html", html.as_bytes())?;
    write("letters.csv", &csv.finish().map_err(|e| e.to_string())?)?;
    Ok(())
}

fn report_assessment(settings: &Settings, year: i32, format: &str, out: Option<PathBuf>) -> Result<(), String> {
    let pool = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    let cal = crate::calendar::runtime::build(&settings.calendar.dir, Some(&mut conn)).map_err(|e| e.to_string())?;
    let r = crate::assessment::report::current(&mut conn, &cal, &settings.assessment, year, db::now())
        .map_err(describe_api_error)?;
    let bytes = match format {
        "csv" => crate::assessment::report::to_csv(&r),
        "json" => serde_json::to_vec_pretty(&r).map_err(|e| e.to_string())?,
        _ => crate::assessment::report::to_html(&r).map_err(describe_api_error)?.into_bytes(),
    };
    match out {
        Some(path) => std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(&bytes).map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_public_url_on_another_port_is_named() {
        assert!(public_url_mismatch("http://127.0.0.1:8080", 9000).unwrap().contains("port 9000"));
        assert!(public_url_mismatch("http://localhost:8080/", 8080).is_none());
        assert!(public_url_mismatch("http://localhost", 8080).unwrap().contains("localhost"));
        // Behind a proxy: a public name may use another port.
        assert!(public_url_mismatch("https://anshang.czs.gov.cn", 8080).is_none());
    }

    #[test]
    fn a_future_instant_needs_simulate() {
        let now = chrono::Utc::now();
        assert!(check_simulated_instant(now + chrono::Duration::seconds(30), now, false).is_ok());
        let refused = check_simulated_instant(now + chrono::Duration::hours(2), now, false).unwrap_err();
        assert!(refused.contains("--simulate"), "{refused}");
        assert!(check_simulated_instant(now + chrono::Duration::days(30), now, true).is_ok());
        assert!(check_simulated_instant(now - chrono::Duration::days(30), now, false).is_ok());
    }
}
