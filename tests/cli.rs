//! The binary as an operator runs it: zero-setup start, backend choice, refusals.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A command with no inherited anshang configuration, run in `dir`.
fn anshang(dir: &Path) -> Command {
    common::anshang_command(dir)
}

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `serve --port 0`: (the running server, its port, the lines printed before listening).
fn serve_on_any_port(dir: &Path) -> (Running, u16, Vec<String>) {
    let mut cmd = anshang(dir);
    cmd.args(["serve", "--port", "0"]).stderr(Stdio::piped());
    let (child, port, printed) = common::spawn_served(cmd);
    (Running(child), port, printed)
}

/// Polls `/readyz` until it answers 200 (bounded), returning the body.
fn wait_ready(port: u16, child: &mut Child) -> String {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("server exited early with {status}: {err}");
        }
        if let Ok(mut r) = agent.get(format!("http://127.0.0.1:{port}/readyz")).call() {
            if r.status() == 200 {
                return r.body_mut().read_to_string().unwrap();
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server not ready within 30 s");
}

#[test]
fn zero_setup_serve_creates_everything_under_data() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, port, printed) = serve_on_any_port(dir.path());
    let body = wait_ready(port, &mut running.0);
    assert!(body.contains("\"sqlite\""), "{body}");
    let data = dir.path().join("data");
    assert!(data.join("anshang.db").is_file());
    let key = data.join("jwt.key");
    assert!(key.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // The one-time admin password is printed once, on stdout, and never in the logs.
    let _ = running.0.kill();
    let _ = running.0.wait();
    let out = printed.join("\n");
    let mut err = String::new();
    running.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let password =
        out.lines().find_map(|l| l.trim().strip_prefix("password: ")).expect("password printed").trim().to_string();
    assert_eq!(password.len(), 20);
    // The default public_base_url names port 8080 on this machine; this one listens elsewhere.
    assert!(
        out.contains(&format!(
            "warning: server.public_base_url is http://127.0.0.1:8080 but this instance listens on port {port}"
        )),
        "every email link would point elsewhere: said so at start\n{out}"
    );
    assert!(!err.contains(&password), "password leaked into logs");

    // A second start keeps the key and does not create another admin.
    let key_before = std::fs::read(&key).unwrap();
    let (mut running, port, printed) = serve_on_any_port(dir.path());
    wait_ready(port, &mut running.0);
    let _ = running.0.kill();
    let _ = running.0.wait();
    assert!(!printed.iter().any(|l| l.contains("password:")), "{printed:?}");
    assert_eq!(std::fs::read(&key).unwrap(), key_before);
}

#[test]
fn a_failing_postgres_url_is_an_error_never_a_sqlite_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let out = anshang(dir.path())
        .args(["serve", "--port", &free_port().to_string()])
        .env("ANSHANG__DATABASE__URL", "postgres://nobody:secret-pw@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open database postgres://nobody:***@127.0.0.1:1/x"), "{err}");
    assert!(!err.contains("secret-pw"), "password in message: {err}");
    assert!(!dir.path().join("data").join("anshang.db").exists());
    let leftovers: Vec<_> = walk(dir.path()).into_iter().filter(|p| p.to_string_lossy().contains(".db")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn bad_configuration_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value, named) in [
        ("ANSHANG__SERVER__PORT", "eighty", "port"),
        ("ANSHANG__DATABASE__URL", "mysql://x@y/z", "database.url"),
        ("ANSHANG__DATABASE__POOL_SIZE", "0", "database.pool_size"),
        ("ANSHANG__SERVER__COLOUR", "blue", "colour"),
        ("ANSHANG__LOG__FORMAT", "xml", "xml"),
        ("ANSHANG__MAIL__FROM", "not an address", "must be an address"),
    ] {
        let out = anshang(dir.path()).arg("serve").env(key, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{key}: {err}");
    }
    // A named profile that does not exist is an error too, not silently the defaults.
    let out = anshang(dir.path()).arg("migrate").env("ANSHANG_PROFILE", "production").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("production.toml"));
    assert!(!dir.path().join("data").exists(), "nothing created on a refused start");
}

#[test]
fn a_profile_file_overrides_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/site.toml"), "[server]\ndata_dir = \"elsewhere\"\n").unwrap();
    let out = anshang(dir.path()).arg("migrate").env("ANSHANG_PROFILE", "site").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("elsewhere/anshang.db").is_file());
}

#[test]
fn migrate_and_users_create_on_the_configured_backend() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = anshang(dir.path())
            .args(args)
            .env("ANSHANG__DATABASE__URL", &db.url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    };
    assert!(run(&["migrate"], None).status.success());
    let out = run(&["users", "create", "--role", "coordinator", "--email", "Co@Example.gov.cn"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("one-time password: "));
    let out = run(
        &["users", "create", "--role", "admin", "--email", "ad@example.gov.cn", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));
    let out = run(&["users", "create", "--role", "department", "--email", "d@example.gov.cn"], None);
    assert!(String::from_utf8_lossy(&out.stderr).contains("department_id"), "department staff need a department");
    let out = run(&["demo", "load"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("32 departments and 5 accounts"));
    let out = run(&["users", "list"], None);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("co@example.gov.cn\tcoordinator\tactive"), "{listing}");
}

#[test]
fn backup_copies_a_live_sqlite_database_and_points_postgres_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    assert!(anshang(dir.path()).args(["demo", "load"]).output().unwrap().status.success());
    let out = anshang(dir.path()).args(["backup", "--out", "copy"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let copy = dir.path().join("copy").join("anshang.db");
    let pool = anshang::db::connect_pool(&anshang::db::DatabaseUrl::Sqlite(copy), 1, std::time::Duration::from_secs(5))
        .unwrap();
    let mut conn = pool.get().unwrap();
    assert_eq!(anshang::departments::store::list(&mut conn, true).unwrap().len(), 32);
    // Refuses to overwrite; PostgreSQL is pg_dump's job.
    assert!(!anshang(dir.path()).args(["backup", "--out", "copy"]).output().unwrap().status.success());
    let out = anshang(dir.path())
        .args(["backup", "--out", "x"])
        .env("ANSHANG__DATABASE__URL", "postgres://nobody@127.0.0.1:1/x")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
}

/// SQLite, libpq and the OpenSSL it uses are built from source and linked in; mail goes over
/// rustls: the binary needs no system TLS or PostgreSQL library at run time.
#[test]
fn the_binary_links_no_system_tls_or_postgres_library() {
    let out = Command::new("ldd").arg(env!("CARGO_BIN_EXE_anshang")).output().expect("ldd runs");
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success() && listed.contains("libc.so"), "ldd: {listed}");
    for library in ["libssl", "libcrypto", "libpq", "libsqlite3", "libgssapi", "libldap"] {
        assert!(!listed.contains(library), "the binary links {library}: {listed}");
    }
}

/// The container's health check needs no curl: `anshang healthcheck` asks the running serve.
#[test]
fn healthcheck_says_whether_serve_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut running, port, _) = serve_on_any_port(dir.path());
    wait_ready(port, &mut running.0);
    let out = anshang(dir.path()).args(["healthcheck", "--port", &port.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "healthy");
    drop(running);
    // Nothing listening: a failure that names the address.
    let closed = free_port();
    let out = anshang(dir.path()).args(["healthcheck", "--port", &closed.to_string()]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("127.0.0.1:{closed}")));
}
