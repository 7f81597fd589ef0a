//! While the database is out of reach, answers say to come back later and name nothing of the
//! inside: no host, port, driver or library text; a `Retry-After`; the request id to find the
//! cause in the log. PostgreSQL is reached through a TCP relay the test owns, so it can "stop"
//! the server; SQLite is held busy by another writer beyond its busy timeout.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::complaint_json;
use serde_json::Value;

/// Forwards connections to `target` until stopped; stopping refuses new connections and cuts
/// the open ones, as a stopped database server would.
struct Relay {
    port: u16,
    stopped: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(target: &str) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stopped = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (stop, conns, target) = (stopped.clone(), open.clone(), target.to_string());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(server) = TcpStream::connect(&target) else { continue };
                        conns.lock().unwrap().extend([client.try_clone().unwrap(), server.try_clone().unwrap()]);
                        pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                        pipe(server, client);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // The listener is dropped here: the port refuses from now on.
        });
        Relay { port, stopped, open }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for c in self.open.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// What no answer to a client may contain while the database is away.
const INSIDE: [&str; 12] = [
    "127.0.0.1",
    "5432",
    "port",
    "Connection refused",
    "connection to server",
    "timed out waiting for connection",
    "database is locked",
    "diesel",
    "r2d2",
    "sqlite",
    "postgres",
    "Is the server running",
];

fn assert_tells_nothing_inside(what: &str, r: &common::Resp, relay_port: Option<u16>) {
    assert_eq!(r.status, 503, "{what}: {}", r.body);
    let lower = r.body.to_lowercase();
    for needle in INSIDE {
        assert!(!lower.contains(&needle.to_lowercase()), "{what} names {needle:?}: {}", r.body);
    }
    if let Some(p) = relay_port {
        assert!(!r.body.contains(&p.to_string()), "{what} names the database port: {}", r.body);
    }
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["type"], "/problems/unavailable");
    assert!(v["detail"].as_str().unwrap().contains("try again"), "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"), "{what}: a 503 says when to come back");
    let id = r.header("x-request-id").expect("the request id to quote to an operator");
    assert!(!id.is_empty());
}

#[test]
fn while_the_database_is_away_answers_say_come_back_and_name_nothing_inside() {
    if common::uses_postgres() {
        postgres_stopped();
    } else {
        sqlite_held_busy();
    }
}

fn postgres_stopped() {
    let data_dir = tempfile::tempdir().unwrap();
    let database = common::fresh_database(data_dir.path());
    // postgres://user@127.0.0.1:5432/name → the same through the relay.
    let (scheme_user, rest) = database.url.split_once('@').unwrap();
    let (host_port, name) = rest.split_once('/').unwrap();
    let relay = Relay::start(host_port);
    let through_relay = format!("{scheme_user}@127.0.0.1:{}/{name}", relay.port);
    let app = common::spawn_app_on(data_dir, database, &through_relay, |s| s.database.connect_timeout_secs = 1);
    let filed = app.post("/api/v1/complaints", None, &complaint_json("en"));
    assert_eq!(filed.status, 201, "{}", filed.body);

    relay.stop();
    let r = app.post("/api/v1/complaints", None, &complaint_json("en"));
    assert_tells_nothing_inside("filing", &r, Some(relay.port));
    let r = app.get("/readyz", None);
    assert_tells_nothing_inside("readiness", &r, Some(relay.port));
    let number = filed.json()["tracking_number"].as_str().unwrap().to_string();
    let r =
        app.request("GET", &format!("/api/v1/track/{number}"), None, &[("X-Access-Code", "AAAA-BBBB-CCCC-DDDD")], None);
    assert_tells_nothing_inside("tracking", &r, Some(relay.port));
}

fn sqlite_held_busy() {
    let app = common::spawn_app();
    // Another writer holds SQLite's write lock past the service's busy timeout.
    let url = anshang::db::DatabaseUrl::parse(&app.database.url, app.data_dir.path()).unwrap();
    let pool = anshang::db::connect_pool(&url, 1, Duration::from_secs(5)).unwrap();
    let mut conn = pool.get().unwrap();
    use diesel::connection::SimpleConnection;
    conn.batch_execute("BEGIN IMMEDIATE").unwrap();
    let r = app.post("/api/v1/complaints", None, &complaint_json("en"));
    conn.batch_execute("ROLLBACK").unwrap();
    assert_tells_nothing_inside("filing", &r, None);
    // And it serves again at once.
    assert_eq!(app.post("/api/v1/complaints", None, &complaint_json("en")).status, 201);
}
