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
    assert!(
        TcpStream::connect_timeout(&format!("127.0.0.1:{port}").parse().unwrap(), Duration::from_secs(1)).is_err(),
        "still accepting after SIGTERM"
    );
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
    let r = agent
        .get(format!("http://127.0.0.1:{port}/api/v1/track/{number}"))
        .header("X-Access-Code", code)
        .call()
        .unwrap();
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

/// A multipart body that ends inside its closing boundary (the whole declared length sent).
const TRUNCATED_MULTIPART: &str = "--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--XY";

fn truncated_multipart_request(path: &str, declared_length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {declared_length}\r\n\r\n{TRUNCATED_MULTIPART}"
    )
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0)
}

fn status_line_within(stream: &mut TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), started.elapsed())
}

#[test]
fn a_multipart_body_truncated_inside_its_boundary_is_refused_and_frees_its_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let mut cmd = common::anshang_command(dir.path());
    cmd.env("ANSHANG__DATABASE__URL", &db.url)
        .env("ANSHANG__SERVER__DATA_DIR", dir.path())
        .env("ANSHANG__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef-truncated")
        .env("ANSHANG__DATABASE__POOL_SIZE", "2")
        .args(["serve", "--port", "0"])
        .stderr(Stdio::null());
    let (mut child, port, _) = common::spawn_served(cmd);

    // The public form (the tracking page's upload, the staff intake and the roll import share
    // its reader). Twice: the first answer also opens the pool's connections.
    for path in ["/", "/"] {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(truncated_multipart_request(path, TRUNCATED_MULTIPART.len()).as_bytes()).unwrap();
        let (status, waited) = status_line_within(&mut stream, Duration::from_secs(10));
        assert!(status.starts_with("HTTP/1.1 4"), "{path}: {status:?} after {waited:?}");
        assert!(waited < Duration::from_secs(5), "{path}: answered after {waited:?}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let baseline = open_descriptors(child.id());
    assert!(baseline > 0, "cannot read /proc/{}/fd", child.id());

    // Thirty clients send it and leave without waiting for the answer.
    for _ in 0..30 {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(truncated_multipart_request("/", TRUNCATED_MULTIPART.len()).as_bytes()).unwrap();
        drop(stream);
    }
    let started = Instant::now();
    let mut now_open = open_descriptors(child.id());
    while now_open > baseline + 3 && started.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(200));
        now_open = open_descriptors(child.id());
    }
    assert!(now_open <= baseline + 3, "{now_open} descriptors open, {baseline} before the 30 clients");

    // And the service still answers.
    let mut fine = TcpStream::connect(("127.0.0.1", port)).unwrap();
    fine.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    assert!(read_response(&mut fine).starts_with("HTTP/1.1 200"));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_client_too_slow_to_send_its_body_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let mut cmd = common::anshang_command(dir.path());
    cmd.env("ANSHANG__DATABASE__URL", &db.url)
        .env("ANSHANG__SERVER__DATA_DIR", dir.path())
        .env("ANSHANG__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef-slowbody")
        .env("ANSHANG__SERVER__BODY_READ_TIMEOUT_SECS", "2")
        .args(["serve", "--port", "0"])
        .stderr(Stdio::null());
    let (mut child, port, _) = common::spawn_served(cmd);

    for (path, content_type) in [("/", "multipart/form-data; boundary=XYZ"), ("/api/v1/complaints", "application/json")]
    {
        // Promises 100,000 bytes, sends 58, then goes quiet.
        let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(slow, "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: 100000\r\n\r\n{TRUNCATED_MULTIPART}").unwrap();
        let (status, waited) = status_line_within(&mut slow, Duration::from_secs(20));
        assert!(status.starts_with("HTTP/1.1 408"), "{path}: {status:?} after {waited:?}");
        assert!(waited < Duration::from_secs(10), "{path}: held for {waited:?}");
        // The connection is closed, not kept for another request.
        let rest = read_response(&mut slow);
        assert!(!rest.contains("HTTP/1.1 "), "{rest:?}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_client_over_its_filing_limit_is_refused_before_its_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let mut cmd = common::anshang_command(dir.path());
    cmd.env("ANSHANG__DATABASE__URL", &db.url)
        .env("ANSHANG__SERVER__DATA_DIR", dir.path())
        .env("ANSHANG__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef-overlimit")
        .env("ANSHANG__COMPLAINTS__FILINGS_PER_CLIENT_PER_HOUR", "1")
        .args(["serve", "--port", "0"])
        .stderr(Stdio::null());
    let (mut child, port, _) = common::spawn_served(cmd);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let filed = agent
        .post(format!("http://127.0.0.1:{port}/api/v1/complaints"))
        .send_json(common::complaint_json("en"))
        .unwrap();
    assert_eq!(filed.status(), 201);

    // Announces 50 MB of form and sends its first bytes: the answer comes without the rest.
    let mut big = TcpStream::connect(("127.0.0.1", port)).unwrap();
    big.write_all(truncated_multipart_request("/", 50_000_000).as_bytes()).unwrap();
    let (status, waited) = status_line_within(&mut big, Duration::from_secs(20));
    assert!(status.starts_with("HTTP/1.1 429"), "{status:?} after {waited:?}");
    assert!(waited < Duration::from_secs(5), "answered after {waited:?}");
    let _ = child.kill();
    let _ = child.wait();
}

/// The spool files in the attachment directory, with their sizes.
fn spooled(dir: &std::path::Path) -> Vec<u64> {
    std::fs::read_dir(dir.join("attachments"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with(".spool."))
                .map(|e| e.metadata().unwrap().len())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_form_file_is_streamed_to_disk_as_it_arrives_and_removed_when_the_client_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let mut cmd = common::anshang_command(dir.path());
    cmd.env("ANSHANG__DATABASE__URL", &db.url)
        .env("ANSHANG__SERVER__DATA_DIR", dir.path())
        .env("ANSHANG__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef-streamed")
        .args(["serve", "--port", "0"])
        .stderr(Stdio::null());
    let (mut child, port, _) = common::spawn_served(cmd);

    // A form with one 8 MiB file, of which 6 MiB are sent before the client pauses.
    let file_len = 8 * 1024 * 1024;
    let head = "--XYZ\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\nA permit\r\n--XYZ\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"scan.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n";
    let tail = "\r\n--XYZ--\r\n";
    let total = head.len() + file_len + tail.len();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {total}\r\n\r\n{head}").unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..(6 * 1024 * 1024 / chunk.len()) {
        stream.write_all(&chunk).unwrap();
    }
    stream.flush().unwrap();
    // What arrived is on disk, not in memory.
    let started = Instant::now();
    let mut on_disk = 0;
    while started.elapsed() < Duration::from_secs(10) {
        on_disk = spooled(dir.path()).into_iter().max().unwrap_or(0);
        if on_disk >= 4 * 1024 * 1024 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(on_disk >= 4 * 1024 * 1024, "{on_disk} bytes of the file on disk while it arrives");
    // The client leaves: nothing stays behind.
    drop(stream);
    let started = Instant::now();
    while !spooled(dir.path()).is_empty() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(spooled(dir.path()), Vec::<u64>::new(), "a failed upload leaves nothing");
    let _ = child.kill();
    let _ = child.wait();
}
