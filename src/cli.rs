//! The command line: `anshang serve | migrate | users | demo`. `main.rs` only calls `run`.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::{open_database, Application};
use crate::auth::users::{self, AccountRequest};
use crate::auth::Role;
use crate::config::{Settings, SettingsSource};
use crate::db;

#[derive(Parser, Debug)]
#[command(name = "anshang", version, about = "Investor complaints with a legal response clock, and anonymous conduct ballots")]
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
        Command::Migrate => open_database(&settings).map(|_| println!("database is migrated")).map_err(|e| e.to_string()),
        Command::Users(cmd) => users_command(&settings, cmd),
        Command::Demo(DemoCommand::Load) => demo_load(&settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("anshang: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).map_err(|e| e.to_string())?;
        if let Some(password) = &app.bootstrap_password {
            println!(
                "anshang: created the first administrator account\n  email:    {}\n  password: {password}\n  (one-time: change it at first sign-in; it is not shown again)",
                crate::bootstrap::BOOTSTRAP_ADMIN_EMAIL
            );
        }
        tracing::info!(port = app.port(), "serving");
        app.run().await.map_err(|e| e.to_string())
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
            let req = AccountRequest::parse(&email, &display, role, department_id, password, settings.auth.min_password_length)
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
fn describe_api_error(e: crate::error::ApiError) -> String {
    match e {
        crate::error::ApiError::Invalid(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}
