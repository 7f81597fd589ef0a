//! SIGTERM lets in-flight requests finish (and the process exit cleanly); a client that sends
//! its headers too slowly is cut off with 408 instead of holding a connection.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn serve(dir: &std::path::Path, db_url: &str) -> (std::process::Child, u16) {
    let mut cmd = common::anshang_command(dir);
    cmd.env("ANSHANG__DATABASE__URL", db_url)
        .env("ANSHANG__SERVER__DATA_DIR", dir)
        .env("ANSHANG__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef-shutdown")
        .env("ANSHANG__SERVER__CLIENT_REQUEST_TIMEOUT_SECS", "1")
        .env("ANSHANG__SERVER__SHUTDOWN_TIMEOUT_SECS", "20")
        .args(["serve", "--port", "0"])
        .stderr(Stdio::null());
    let (child, port, _) = common::spawn_served(cmd);
    (child, port)
}

fn read_response(stream: &mut TcpStream) -> String {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_the_filing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let (mut child, port) = serve(dir.path(), &db.url);

    // A filing whose body is still arriving when SIGTERM comes.
    let body = common::complaint_json("en").to_string();
    let (head, tail) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/v1/complaints HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{head}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(500));
    // New connections are refused once the server stops accepting...
    assert!(TcpStream::connect_timeout(&format!("127.0.0.1:{port}").parse().unwrap(), Duration::from_secs(1)).is_err(), "still accepting after SIGTERM");
    // ...but the request in flight completes.
    stream.write_all(tail.as_bytes()).unwrap();
    let response = read_response(&mut stream);
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let filed: serde_json::Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let number = filed["tracking_number"].as_str().unwrap().to_string();

    let started = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(25), "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "exit status {exit:?}");

    // What was acknowledged is there after a restart.
    let (mut again, port) = serve(dir.path(), &db.url);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let code = filed["access_code"].as_str().unwrap();
    let r = agent.get(format!("http://127.0.0.1:{port}/api/v1/track/{number}")).header("X-Access-Code", code).call().unwrap();
    assert_eq!(r.status(), 200);
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn a_client_too_slow_to_send_its_headers_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let (mut child, port) = serve(dir.path(), &db.url);

    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    let started = Instant::now();
    let response = read_response(&mut slow);
    let waited = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(waited < Duration::from_secs(10), "held for {waited:?}");

    // Others are served meanwhile and afterwards.
    let mut fine = TcpStream::connect(("127.0.0.1", port)).unwrap();
    fine.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    assert!(read_response(&mut fine).starts_with("HTTP/1.1 200"));
    let _ = child.kill();
    let _ = child.wait();
}
