//! A real, minimal SMTP server (RFC 5321) for tests, in plain std Rust.
//!
//! [`SmtpSink::start`] listens on `127.0.0.1` on a free port; every connection is served by its own
//! thread, speaking plain SMTP (no TLS, no AUTH): greeting `220`, `EHLO` (advertises `PIPELINING`,
//! `8BITMIME`, `SIZE`), `HELO`, `MAIL FROM:<…>` with the parameters `BODY=7BIT|8BITMIME` and
//! `SIZE=n`, any number of `RCPT TO:<…>`, `DATA` (`354`, dot-unstuffing), `RSET`, `NOOP`, `VRFY`
//! (`252`), `QUIT` (`221`); `500` for unknown commands, `502` for known ones it does not implement
//! (`STARTTLS`, `AUTH`, `BDAT`, …), `503` for commands out of sequence.
//!
//! Every message accepted (`250` after the final `.`) is kept, in order of acceptance, as a
//! [`ReceivedMail`]; [`SmtpSink::wait_for`] blocks on a condition variable until enough arrived.
//! [`SmtpSink::set_accepting`]`(false)` simulates a mail server that is down: each new connection
//! gets `421` and is closed, and nothing is stored.
//!
//! Line endings: the stored [`ReceivedMail::data`] has every `CRLF` turned into `\n` (a lone `\n`
//! from a sloppy client counts as a line end too; other `\r` are kept). Clients such as lettre end
//! every line with `CRLF`, so nothing is lost. Bytes that are not UTF-8 are replaced (U+FFFD).
//! The helpers [`ReceivedMail::subject`], [`ReceivedMail::text_body`] and
//! [`ReceivedMail::html_body`] undo RFC 2047 header encoding and the `base64` /
//! `quoted-printable` transfer encodings, so a test can assert on readable (e.g. Chinese) text.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Largest message accepted (advertised as `SIZE`), in bytes.
pub const MAX_MESSAGE_BYTES: usize = 10 * 1024 * 1024;
/// Longest command or text line read (RFC 5321 asks for 512 and 1000; this is lenient).
const MAX_LINE_BYTES: usize = 64 * 1024;
/// Most recipients in one transaction (RFC 5321 §4.5.3.1.8 asks for at least 100).
const MAX_RECIPIENTS: usize = 1000;
/// A connection silent for this long is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
const HOSTNAME: &str = "smtp-sink.test";

/// One message the sink accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`), without angle brackets; empty for the null path `<>`.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets, in the order given.
    pub to: Vec<String>,
    /// The raw message (headers, blank line, body) as sent after `DATA`, dot-unstuffed, without
    /// the terminating `.` line, with every `CRLF` normalised to `\n`. Still MIME-encoded.
    pub data: String,
}

/// A running SMTP server; stops listening (and closes open sessions) on [`SmtpSink::stop`] or drop.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Arc<Shared>,
    listener: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    arrived: Condvar,
    accepting: AtomicBool,
    stopping: AtomicBool,
}

#[derive(Default)]
struct State {
    messages: Vec<ReceivedMail>,
    refused: usize,
    next_conn: u64,
    open: Vec<(u64, TcpStream)>,
    workers: Vec<JoinHandle<()>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SmtpSink {
    /// Binds `127.0.0.1:0` and starts serving; accepting mail.
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("SmtpSink: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("SmtpSink: local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            arrived: Condvar::new(),
            accepting: AtomicBool::new(true),
            stopping: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        let handle = thread::Builder::new()
            .name(format!("smtp-sink-{}", addr.port()))
            .spawn(move || accept_loop(listener, for_thread))
            .expect("SmtpSink: spawn listener thread");
        SmtpSink { addr, shared, listener: Some(handle) }
    }

    /// The port it listens on (host is always `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The address it listens on, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every message accepted so far, in order of acceptance.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.shared.lock().messages.clone()
    }

    /// Waits until at least `n` messages were accepted and returns all of them (possibly more
    /// than `n`). Panics, listing what did arrive, if that does not happen within `timeout`.
    #[track_caller]
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.messages.len() < n {
            let now = Instant::now();
            if now >= deadline {
                let got: Vec<String> = state.messages.iter().map(ReceivedMail::summary).collect();
                drop(state);
                panic!(
                    "SmtpSink::wait_for: expected at least {n} message(s) within {timeout:?}, got {}: [{}]",
                    got.len(),
                    got.join("; ")
                );
            }
            state = self
                .shared
                .arrived
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        state.messages.clone()
    }

    /// `false`: every new connection gets `421` and is closed, and a session already open that
    /// finishes a `DATA` gets `421` instead of `250`; nothing is stored (the mail server is down).
    /// `true` (the initial state): serve normally again.
    pub fn set_accepting(&self, accepting: bool) {
        self.shared.accepting.store(accepting, Ordering::SeqCst);
    }

    /// How many connections were refused with `421` while not accepting.
    pub fn refused_connections(&self) -> usize {
        self.shared.lock().refused
    }

    /// Forgets the messages accepted so far (a later `wait_for(n)` counts from zero again).
    pub fn clear(&self) {
        self.shared.lock().messages.clear();
    }

    /// Stops listening and closes open sessions (the same as dropping it).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() with a connection of our own; it sees `stopping` and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.listener.take() {
            let _ = handle.join();
        }
        let (open, workers) = {
            let mut state = self.shared.lock();
            (std::mem::take(&mut state.open), std::mem::take(&mut state.workers))
        };
        for (_, stream) in &open {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for worker in workers {
            let _ = worker.join();
        }
    }
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("addr", &self.addr)
            .field("accepting", &self.shared.accepting.load(Ordering::SeqCst))
            .field("messages", &self.shared.lock().messages.len())
            .finish_non_exhaustive()
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let mut stream = match conn {
            Ok(stream) => stream,
            Err(_) => {
                // E.g. out of file descriptors: do not spin.
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if !shared.accepting.load(Ordering::SeqCst) {
            shared.lock().refused += 1;
            let _ =
                stream.write_all(b"421 4.3.2 smtp-sink.test Service not available, closing transmission channel\r\n");
            let _ = stream.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(registered) = stream.try_clone() else { continue };
        let mut state = shared.lock();
        state.workers.retain(|w| !w.is_finished());
        let id = state.next_conn;
        state.next_conn += 1;
        state.open.push((id, registered));
        let for_worker = Arc::clone(&shared);
        let spawned = thread::Builder::new().name(format!("smtp-sink-conn-{id}")).spawn(move || {
            let _ = serve(stream, &for_worker);
            for_worker.lock().open.retain(|(open_id, _)| *open_id != id);
        });
        match spawned {
            Ok(handle) => state.workers.push(handle),
            Err(_) => {
                if let Some(pos) = state.open.iter().position(|(open_id, _)| *open_id == id) {
                    let (_, s) = state.open.remove(pos);
                    let _ = s.shutdown(Shutdown::Both);
                }
            }
        }
    }
}

/// One line read from the client, without its line end.
enum Line {
    Text(Vec<u8>),
    TooLong,
    Eof,
}

fn read_line(reader: &mut impl BufRead) -> io::Result<Line> {
    let mut buf = Vec::new();
    reader.by_ref().take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut buf)?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Line::Text(buf));
    }
    if buf.len() < MAX_LINE_BYTES {
        return Ok(Line::Eof); // the client went away (possibly mid-line)
    }
    // Too long: skip the rest of the line.
    loop {
        buf.clear();
        let n = reader.by_ref().take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(Line::Eof);
        }
        if buf.last() == Some(&b'\n') {
            return Ok(Line::TooLong);
        }
    }
}

struct Transaction {
    from: String,
    to: Vec<String>,
}

fn serve(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_read_timeout(Some(IDLE_TIMEOUT))?;
    stream.set_write_timeout(Some(IDLE_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut send = |text: &str| -> io::Result<()> { out.write_all(format!("{text}\r\n").as_bytes()) };

    send(&format!("220 {HOSTNAME} ESMTP anshang test sink ready"))?;
    let mut greeted = false;
    let mut txn: Option<Transaction> = None;
    loop {
        let line = match read_line(&mut reader)? {
            Line::Eof => return Ok(()),
            Line::TooLong => {
                send("500 5.5.2 line too long")?;
                continue;
            }
            Line::Text(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        };
        let (verb, arg) = match line.find(' ') {
            Some(i) => (&line[..i], line[i + 1..].trim()),
            None => (line.as_str(), ""),
        };
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.is_empty() => send(&format!("501 5.5.4 {verb} needs a domain or address"))?,
            "EHLO" => {
                greeted = true;
                txn = None;
                send(&format!("250-{HOSTNAME} greets {arg}"))?;
                send("250-PIPELINING")?;
                send("250-8BITMIME")?;
                send(&format!("250 SIZE {MAX_MESSAGE_BYTES}"))?;
            }
            "HELO" => {
                greeted = true;
                txn = None;
                send(&format!("250 {HOSTNAME}"))?;
            }
            "MAIL" => {
                if !greeted {
                    send("503 5.5.1 send EHLO or HELO first")?;
                } else if txn.is_some() {
                    send("503 5.5.1 nested MAIL command")?;
                } else {
                    match parse_mail_from(arg) {
                        Ok(from) => {
                            txn = Some(Transaction { from, to: Vec::new() });
                            send("250 2.1.0 Ok")?;
                        }
                        Err(reply) => send(reply)?,
                    }
                }
            }
            "RCPT" => match txn.as_mut() {
                None => send("503 5.5.1 need MAIL before RCPT")?,
                Some(t) if t.to.len() >= MAX_RECIPIENTS => send("452 4.5.3 too many recipients")?,
                Some(t) => match parse_path(arg, "TO:") {
                    Ok((to, _)) if to.is_empty() => send("501 5.1.3 empty recipient address")?,
                    Ok((_, params)) if !params.is_empty() => send("555 5.5.4 RCPT TO parameters not recognized")?,
                    Ok((to, _)) => {
                        t.to.push(to);
                        send("250 2.1.5 Ok")?;
                    }
                    Err(reply) => send(reply)?,
                },
            },
            "DATA" => {
                if !arg.is_empty() {
                    send("501 5.5.4 DATA takes no argument")?;
                    continue;
                }
                let Some(t) = txn.take() else {
                    send("503 5.5.1 need MAIL and RCPT before DATA")?;
                    continue;
                };
                if t.to.is_empty() {
                    txn = Some(t);
                    send("503 5.5.1 need RCPT before DATA")?;
                    continue;
                }
                send("354 End data with <CR><LF>.<CR><LF>")?;
                let Some((data, oversize)) = read_data(&mut reader)? else { return Ok(()) };
                if oversize {
                    send("552 5.3.4 message size exceeds fixed maximum message size")?;
                } else if !shared.accepting.load(Ordering::SeqCst) {
                    send("421 4.3.2 Service not available, closing transmission channel")?;
                    return Ok(());
                } else {
                    let mut state = shared.lock();
                    state.messages.push(ReceivedMail { from: t.from, to: t.to, data });
                    let number = state.messages.len();
                    shared.arrived.notify_all();
                    drop(state);
                    send(&format!("250 2.0.0 Ok: queued as {number}"))?;
                }
            }
            "RSET" => {
                txn = None;
                send("250 2.0.0 Ok")?;
            }
            "NOOP" => send("250 2.0.0 Ok")?,
            "VRFY" => send("252 2.1.5 cannot VRFY user, but will accept message")?,
            "QUIT" => {
                send(&format!("221 2.0.0 {HOSTNAME} closing connection"))?;
                return Ok(());
            }
            "EXPN" | "HELP" | "TURN" | "ETRN" | "STARTTLS" | "AUTH" | "BDAT" | "ATRN" => {
                send("502 5.5.1 command not implemented")?
            }
            _ => send("500 5.5.2 command not recognized")?,
        }
    }
}

/// Reads the message after `354` up to the `.` line: `Some((text, oversize))`, `None` at EOF.
fn read_data(reader: &mut impl BufRead) -> io::Result<Option<(String, bool)>> {
    let mut data: Vec<u8> = Vec::new();
    let mut oversize = false;
    loop {
        match read_line(reader)? {
            Line::Eof => return Ok(None),
            Line::TooLong => oversize = true,
            Line::Text(line) => {
                if line == b"." {
                    break;
                }
                if oversize {
                    continue;
                }
                let unstuffed = if line.first() == Some(&b'.') { &line[1..] } else { &line[..] };
                data.extend_from_slice(unstuffed);
                data.push(b'\n');
                if data.len() > MAX_MESSAGE_BYTES {
                    oversize = true;
                    data = Vec::new();
                }
            }
        }
    }
    Ok(Some((String::from_utf8_lossy(&data).into_owned(), oversize)))
}

/// `FROM:<path> [params]` → the sender; checks the parameters this server advertises.
fn parse_mail_from(arg: &str) -> Result<String, &'static str> {
    let (from, params) = parse_path(arg, "FROM:")?;
    for param in params {
        let (key, value) = param.split_once('=').unwrap_or((param.as_str(), ""));
        match key.to_ascii_uppercase().as_str() {
            "BODY" => {
                if !value.eq_ignore_ascii_case("7BIT") && !value.eq_ignore_ascii_case("8BITMIME") {
                    return Err("501 5.5.4 BODY must be 7BIT or 8BITMIME");
                }
            }
            "SIZE" => match value.parse::<usize>() {
                Ok(n) if n > MAX_MESSAGE_BYTES => {
                    return Err("552 5.3.4 message size exceeds fixed maximum message size")
                }
                Ok(_) => {}
                Err(_) => return Err("501 5.5.4 SIZE needs a number"),
            },
            _ => return Err("555 5.5.4 MAIL FROM parameters not recognized"),
        }
    }
    Ok(from)
}

/// `<keyword><path> [params]`, keyword `FROM:` or `TO:` (case-insensitive) → (address, params).
fn parse_path(arg: &str, keyword: &str) -> Result<(String, Vec<String>), &'static str> {
    let syntax = "501 5.5.4 syntax: MAIL FROM:<address> or RCPT TO:<address>";
    if arg.len() < keyword.len() || !arg[..keyword.len()].eq_ignore_ascii_case(keyword) {
        return Err(syntax);
    }
    let rest = arg[keyword.len()..].trim_start();
    let rest = rest.strip_prefix('<').ok_or(syntax)?;
    let end = rest.find('>').ok_or(syntax)?;
    let mut path = &rest[..end];
    // Drop an obsolete source route: <@relay1,@relay2:user@domain>.
    if path.starts_with('@') {
        path = path.split_once(':').map(|(_, mailbox)| mailbox).ok_or(syntax)?;
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("501 5.1.3 bad address syntax");
    }
    let params = rest[end + 1..].split_whitespace().map(str::to_string).collect();
    Ok((path.to_string(), params))
}

// ---------------------------------------------------------------------------------------------
// Reading what arrived: headers, RFC 2047 words, MIME parts and transfer encodings.

impl ReceivedMail {
    /// The value of the first header `name` (case-insensitive), unfolded, still encoded.
    pub fn header(&self, name: &str) -> Option<String> {
        header_in(split_entity(&self.data).0, name)
    }

    /// All values of header `name` (e.g. `Received`), unfolded, still encoded.
    pub fn headers(&self, name: &str) -> Vec<String> {
        headers_in(split_entity(&self.data).0, name)
    }

    /// The value of header `name` with RFC 2047 encoded words (`=?utf-8?b?…?=`) decoded.
    pub fn decoded_header(&self, name: &str) -> Option<String> {
        self.header(name).map(|v| decode_rfc2047(&v))
    }

    /// The decoded `Subject`.
    pub fn subject(&self) -> Option<String> {
        self.decoded_header("Subject")
    }

    /// The first `text/plain` part (the whole body for a non-MIME message), transfer-decoded,
    /// as UTF-8 with `\n` line ends.
    pub fn text_body(&self) -> Option<String> {
        find_part(&self.data, "text/plain", 0)
    }

    /// The first `text/html` part, transfer-decoded, as UTF-8 with `\n` line ends.
    pub fn html_body(&self) -> Option<String> {
        find_part(&self.data, "text/html", 0)
    }

    fn summary(&self) -> String {
        format!("from <{}> to <{}> subject {:?}", self.from, self.to.join(">, <"), self.subject().unwrap_or_default())
    }
}

/// Splits a message or body part into (header block, body) at the first empty line.
fn split_entity(entity: &str) -> (&str, &str) {
    if let Some(body) = entity.strip_prefix('\n') {
        return ("", body);
    }
    match entity.find("\n\n") {
        Some(i) => (&entity[..i + 1], &entity[i + 2..]),
        None => (entity, ""),
    }
}

fn headers_in(block: &str, name: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in block.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(value) = current.as_mut() {
                value.push_str(line);
            }
            continue;
        }
        if let Some(value) = current.take() {
            found.push(value);
        }
        if let Some((key, value)) = line.split_once(':') {
            if key.trim().eq_ignore_ascii_case(name) {
                current = Some(value.trim_start().to_string());
            }
        }
    }
    found.extend(current);
    found.into_iter().map(|v| v.trim_end().to_string()).collect()
}

fn header_in(block: &str, name: &str) -> Option<String> {
    headers_in(block, name).into_iter().next()
}

/// `type/subtype; key=value; key="value"` → (lower-case type, parameters with lower-case keys).
fn parse_content_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = value.split(';');
    let mime = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = pieces
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string()))
        .collect();
    (mime, params)
}

fn find_part(entity: &str, wanted: &str, depth: usize) -> Option<String> {
    if depth > 10 {
        return None;
    }
    let (headers, body) = split_entity(entity);
    let content_type = header_in(headers, "Content-Type").unwrap_or_else(|| "text/plain".into());
    let (mime, params) = parse_content_type(&content_type);
    if mime.starts_with("multipart/") {
        let boundary = params.iter().find(|(k, _)| k == "boundary")?.1.clone();
        return multipart_parts(body, &boundary).into_iter().find_map(|part| find_part(&part, wanted, depth + 1));
    }
    if mime != wanted {
        return None;
    }
    let encoding = header_in(headers, "Content-Transfer-Encoding").unwrap_or_default().to_ascii_lowercase();
    let bytes = match encoding.trim() {
        "base64" => decode_base64(body),
        "quoted-printable" => decode_quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    Some(String::from_utf8_lossy(&bytes).replace("\r\n", "\n"))
}

/// The body parts between `--boundary` lines (the line end before a delimiter belongs to it).
fn multipart_parts(body: &str, boundary: &str) -> Vec<String> {
    let delimiter = format!("--{boundary}");
    let closing = format!("--{boundary}--");
    let mut parts = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in body.split('\n') {
        let trimmed = line.trim_end();
        if trimmed == delimiter || trimmed == closing {
            if let Some(lines) = current.take() {
                parts.push(lines.join("\n"));
            }
            if trimmed == closing {
                break;
            }
            current = Some(Vec::new());
        } else if let Some(lines) = current.as_mut() {
            lines.push(line);
        }
    }
    parts
}

fn decode_base64(text: &str) -> Vec<u8> {
    fn value(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a') as u32 + 26),
            b'0'..=b'9' => Some((c - b'0') as u32 + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' => Some(63),
            _ => None,
        }
    }
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text.as_bytes() {
        if c == b'=' {
            break;
        }
        let Some(v) = value(c) else { continue }; // whitespace and line ends
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2; // soft line break
                continue;
            }
            if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') {
                i += 3;
                continue;
            }
            if let (Some(h), Some(l)) =
                (bytes.get(i + 1).and_then(|&c| hex_value(c)), bytes.get(i + 2).and_then(|&c| hex_value(c)))
            {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words (charsets UTF-8 and US-ASCII; `B` and `Q`); whitespace between
/// two adjacent encoded words is dropped, as the RFC says. Anything else is kept as it is.
fn decode_rfc2047(value: &str) -> String {
    let mut out = String::new();
    let mut pending: Vec<u8> = Vec::new(); // bytes of adjacent encoded words, decoded together
    let mut gap = String::new(); // whitespace seen after an encoded word
    let mut rest = value;
    while !rest.is_empty() {
        if let Some((decoded, len)) = encoded_word(rest) {
            gap.clear();
            pending.extend(decoded);
            rest = &rest[len..];
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        if !pending.is_empty() && (c == ' ' || c == '\t') {
            gap.push(c);
        } else {
            out.push_str(&String::from_utf8_lossy(&std::mem::take(&mut pending)));
            out.push_str(&std::mem::take(&mut gap));
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(&String::from_utf8_lossy(&pending));
    out.push_str(&gap);
    out
}

/// `=?charset?enc?text?=` at the start of `s` → (decoded bytes, length consumed).
fn encoded_word(s: &str) -> Option<(Vec<u8>, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    if text.contains(' ') || encoding.len() != 1 {
        return None;
    }
    let consumed = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase(); // RFC 2231 language
    if charset != "utf-8" && charset != "us-ascii" {
        return None;
    }
    let decoded = match encoding {
        "B" | "b" => decode_base64(text),
        "Q" | "q" => decode_quoted_printable(&text.replace('_', " ")),
        _ => return None,
    };
    Some((decoded, consumed))
}
