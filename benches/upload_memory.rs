//! Peak resident memory of an instance receiving the largest complaint forms the limits allow,
//! several at once: `complaints.attachment_max_count` files of `complaints.attachment_max_bytes`
//! each (10 × 10 MiB by default), from 3 clients concurrently, on the public form (`POST /`).
//! The server is the `anshang` binary in a child process; its `VmRSS` is sampled every 20 ms
//! and its `VmHWM` (peak) read at the end. The clients stream their bodies from a 64 KiB buffer.
//!
//!   cargo bench --bench upload_memory
//!
//! (Under `cargo test`/nextest the binary is only listed, never run.)

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const CLIENTS: usize = 3;
const FILES: usize = 10;
const FILE_BYTES: usize = 10 * 1024 * 1024;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = common::fresh_database(dir.path());
    let mut cmd = common::anshang_command(dir.path());
    cmd.env("ANSHANG__DATABASE__URL", &db.url)
        .env("ANSHANG__SERVER__DATA_DIR", dir.path())
        .env("ANSHANG__AUTH__JWT_SECRET", "0123456789abcdef0123456789abcdef-benchmark")
        .env("ANSHANG__LOG__LEVEL", "error")
        .args(["serve", "--port", "0"])
        .stderr(std::process::Stdio::null());
    let (mut child, port, _) = common::spawn_served(cmd);
    let pid = child.id();
    // Warm up: one small filing (pool connections, templates, allocator arenas).
    assert!(post_form(port, 1, 1024).starts_with("HTTP/1.1 200"), "the warm-up filing is accepted");
    std::thread::sleep(Duration::from_millis(500));
    let idle = status_kib(pid, "VmRSS:");

    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5"); // resets VmHWM
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (sampled_peak, answers) = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(status_kib(pid, "VmRSS:"));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        });
        let clients: Vec<_> = (0..CLIENTS).map(|_| s.spawn(|| post_form(port, FILES, FILE_BYTES))).collect();
        let answers: Vec<String> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        (sampler.join().unwrap(), answers)
    });
    let elapsed = started.elapsed();
    let hwm = status_kib(pid, "VmHWM:");
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200"), "{}", a.lines().next().unwrap_or_default());
    }
    let mib = |k: u64| k as f64 / 1024.0;
    let body_mib = (FILES * FILE_BYTES) as f64 / 1_048_576.0;
    println!(
        "\n## {CLIENTS} concurrent public-form filings of {FILES} × {} MiB ({body_mib:.0} MiB each), {:.1} s",
        FILE_BYTES / 1_048_576,
        elapsed.as_secs_f64()
    );
    println!("| measure | MiB |\n|---|---|");
    println!("| resident, idle after warm-up | {:.1} |", mib(idle));
    println!("| resident, peak sampled during the uploads | {:.1} |", mib(sampled_peak));
    println!("| resident, peak (VmHWM) | {:.1} |", mib(hwm));
    println!("| growth over idle | {:.1} |", mib(hwm.saturating_sub(idle)));
    println!("| body bytes received | {:.0} |", body_mib * CLIENTS as f64);
    let _ = child.kill();
    let _ = child.wait();
}

fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

/// Posts a valid public form with `files` PDF files of `file_bytes` each, streamed from a small
/// buffer; returns the response head.
fn post_form(port: u16, files: usize, file_bytes: usize) -> String {
    let fields = [
        ("complainant.type", "foreign_invested_enterprise"),
        ("complainant.name", "Bench Investor"),
        ("complainant.company", "Bench GmbH"),
        ("complainant.nationality", "Germany"),
        ("complainant.email", "bench@example.de"),
        ("complainant.phone", "+49 30 1234567"),
        ("complainant.language", "en"),
        ("project", "Plant"),
        ("matter_type", "administrative_act"),
        ("subject", "Permit"),
        ("facts", "Applied, no decision."),
        ("request", "A decision."),
    ];
    let mut head = String::new();
    for (name, value) in fields {
        head.push_str(&format!("--XYZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"));
    }
    let part_head = |i: usize| {
        format!("--XYZ\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"scan{i}.pdf\"\r\nContent-Type: application/pdf\r\n\r\n")
    };
    let pdf_start = b"%PDF-1.7\n";
    let tail = "--XYZ--\r\n";
    let total = head.len() + (0..files).map(|i| part_head(i).len() + file_bytes + 2).sum::<usize>() + tail.len();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n{head}").unwrap();
    let buffer = vec![b'x'; 64 * 1024];
    for i in 0..files {
        stream.write_all(part_head(i).as_bytes()).unwrap();
        stream.write_all(pdf_start).unwrap();
        let mut left = file_bytes - pdf_start.len();
        while left > 0 {
            let n = left.min(buffer.len());
            stream.write_all(&buffer[..n]).unwrap();
            left -= n;
        }
        stream.write_all(b"\r\n").unwrap();
    }
    stream.write_all(tail.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).lines().take(1).collect::<Vec<_>>().join("")
}
