//! The restore drill: an instance with complaints, files, a reply and a published ballot round
//! is backed up while it serves, restored into a fresh place and served from there; what it
//! shows must be what the original showed. SQLite through `anshang backup` / `anshang restore`;
//! PostgreSQL through `pg_dump -Fc` / `pg_restore --no-owner` plus the key files, as
//! docs/operations.md prescribes (the files are inside the database).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

use common::{Resp, TestApp};
use diesel::prelude::*;
use serde_json::{json, Value};
use sha2::Digest;

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary with no inherited configuration, on this data directory (and database, if given).
fn anshang(data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut cmd = common::anshang_command(data_dir.parent().unwrap_or(data_dir));
    cmd.arg("--data-dir").arg(data_dir);
    if let Some(url) = database_url {
        cmd.env("ANSHANG__DATABASE__URL", url);
    }
    cmd
}

fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn ok(r: Resp) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn get(base: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut r = req.call().expect("HTTP exchange");
    (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
}

struct Filed {
    id: String,
    number: String,
    code: String,
    /// (attachment id, the bytes uploaded)
    files: Vec<(String, Vec<u8>)>,
}

/// What the original instance shows, to be compared with the restored one.
struct Seen {
    complaints: Vec<(Filed, Value)>,
    round: String,
    results: Value,
    bulletin_sha256: String,
    /// A token the original issued (the restored token key must accept it).
    admin_token: String,
}

fn tracking(base: &str, f: &Filed) -> Value {
    let (status, body) = get(base, &format!("/api/v1/track/{}", f.number), &[("X-Access-Code", &f.code)]);
    assert_eq!(status, 200, "{body}");
    let mut v: Value = serde_json::from_str(&body).unwrap();
    // The clock's reading moves with the time of asking; everything else must come back as it was.
    v.as_object_mut().unwrap().remove("clock");
    v
}

fn file_complaint(app: &TestApp, uploads: &[(&str, &[u8])]) -> Filed {
    let filed = app.post("/api/v1/complaints", None, &common::complaint_json("en")).json();
    let id = filed["id"].as_str().unwrap().to_string();
    let number = filed["tracking_number"].as_str().unwrap().to_string();
    let code = filed["access_code"].as_str().unwrap().to_string();
    let mut files = Vec::new();
    for (name, bytes) in uploads {
        let t = ok(app.request(
            "POST",
            &format!("/api/v1/track/{number}/attachments?filename={name}"),
            None,
            &[("X-Access-Code", &code)],
            Some(("application/octet-stream", bytes.to_vec())),
        ));
        let id = t["attachments"].as_array().unwrap().last().unwrap()["id"].as_str().unwrap().to_string();
        files.push((id, bytes.to_vec()));
    }
    Filed { id, number, code, files }
}

/// Complaints (two with files, one replied to) and a ballot round voted, closed, opened by the
/// trustees and published.
fn build_instance(app: &TestApp) -> Seen {
    let admin = app.admin_token();
    let land = app.create_department(&admin, "land");
    let tax = app.create_department(&admin, "tax");
    let coordinator = app.staff_token(&admin, "coordinator", None);
    let land_staff = app.staff_token(&admin, "department", Some(&land));

    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
    let notes = "Acceptance notice No. 2026-118, stamped 2026-08-01.\n受理通知书\n".as_bytes().to_vec();
    let with_files = file_complaint(app, &[("permit.pdf", &pdf), ("notes.txt", &notes)]);
    let with_one_file = file_complaint(app, &[("receipt.txt", b"received in person\n")]);
    let replied = file_complaint(app, &[]);
    let replied_id = replied.id.clone();
    ok(app.post(
        &format!("/api/v1/complaints/{replied_id}/assign"),
        Some(&coordinator),
        &json!({"department_id": land}),
    ));
    let v = ok(app.post(
        &format!("/api/v1/complaints/{replied_id}/reply"),
        Some(&land_staff),
        &json!({"text": "The permit was issued today.", "outcome": "resolved"}),
    ));
    assert_eq!(v["status"], "replied");

    // A round over both departments; three paper voters, as many as the smallest group shown.
    let commission = app.staff_token(&admin, "commission", None);
    let round = app.create_ballot_round(&commission, &[land.clone(), tax.clone()], 3);
    let roll = "name,category,contact,departments\nA,enterprise_served,paper,land;tax\nB,enterprise_served,paper,land;tax\nC,enterprise_served,paper,land;tax\n";
    let imported = app.request(
        "POST",
        &format!("/api/v1/ballots/rounds/{round}/voters"),
        Some(&commission),
        &[],
        Some(("text/csv", roll.as_bytes().to_vec())),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    let officer = |action: &str, body: Value| {
        ok(app.post(&format!("/api/v1/ballots/rounds/{round}/{action}"), Some(&commission), &body))
    };
    let letters = officer("issue-codes", json!({}))["letters"].as_array().unwrap().clone();
    let shares = officer("open", json!({}))["key_shares"].clone();
    for (i, letter) in letters.iter().enumerate() {
        let answer = ["satisfied", "dissatisfied"][i % 2];
        let ratings: Vec<Value> = [&land, &tax]
            .iter()
            .map(|d| json!({"department_id": d, "answers": {"overall": answer, "efficiency": "satisfied", "attitude": "satisfied", "integrity": "basically_satisfied"}}))
            .collect();
        let cast = app.post(
            &format!("/api/v1/ballots/{round}/cast"),
            None,
            &json!({"code": letter["code"], "ratings": ratings}),
        );
        assert_eq!(cast.status, 201, "{}", cast.body);
    }
    officer("close", json!({}));
    officer("unseal", json!({"key_shares": shares}));
    officer("publish", json!({}));
    let results = ok(app.get(&format!("/api/v1/ballots/{round}/results"), None));
    assert!(results.as_array().unwrap().iter().all(|t| t["ballots"] == 3), "{results}");
    let bulletin = app.get(&format!("/api/v1/ballots/{round}/bulletin"), None);
    assert_eq!(bulletin.status, 200);

    let complaints = [with_files, with_one_file, replied]
        .into_iter()
        .map(|f| {
            let view = tracking(&app.base, &f);
            (f, view)
        })
        .collect();
    Seen {
        complaints,
        round,
        results,
        bulletin_sha256: hex::encode(sha2::Sha256::digest(bulletin.body.as_bytes())),
        admin_token: admin,
    }
}

/// Copies the key files of `from` into `to` (the PostgreSQL drill keeps them beside the dump).
fn copy_data_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for key in ["audit.key", "jwt.key"] {
        std::fs::copy(from.join(key), to.join(key)).unwrap();
    }
}

/// Backs the running `app` up and restores it into `restored` (a data directory that does not
/// exist yet); returns the restored database's URL (None: the SQLite file in `restored`).
fn back_up_and_restore(
    app: &TestApp,
    scratch: &Path,
    restored: &Path,
) -> (Option<String>, Option<common::TestDatabase>) {
    if common::uses_postgres() {
        let dump = scratch.join("anshang.dump");
        let out = Command::new("pg_dump").args(["-Fc", "-d", &app.database.url, "-f"]).arg(&dump).output().unwrap();
        assert!(out.status.success(), "{}", said(&out));
        let target = common::fresh_database(scratch);
        let out = Command::new("pg_restore").args(["--no-owner", "-d", &target.url]).arg(&dump).output().unwrap();
        assert!(out.status.success(), "{}", said(&out));
        copy_data_files(app.data_dir.path(), restored);
        return (Some(target.url.clone()), Some(target));
    }
    let backup = scratch.join("backup");
    let out =
        anshang(app.data_dir.path(), Some(&app.database.url)).arg("backup").arg("--out").arg(&backup).output().unwrap();
    let text = said(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("PRAGMA integrity_check: ok") && text.contains("3 stored attachment contents"), "{text}");
    for key in ["audit.key", "jwt.key"] {
        let secret = std::fs::read_to_string(app.data_dir.path().join(key)).unwrap();
        assert!(!text.contains(secret.trim()), "a key was printed");
        assert_eq!(std::fs::read_to_string(backup.join(key)).unwrap().trim(), secret.trim());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(backup.clone()), 0o700, "the backup holds keys: its owner's only");
        assert_eq!(mode(backup.join("audit.key")), 0o600);
    }
    let out = anshang(restored, None).arg("restore").arg("--from").arg(&backup).output().unwrap();
    assert!(out.status.success(), "{}", said(&out));
    // A second restore over the restored place is refused.
    let again = anshang(restored, None).arg("restore").arg("--from").arg(&backup).output().unwrap();
    assert!(!again.status.success() && said(&again).contains("is not empty"), "{}", said(&again));
    (None, None)
}

fn serve(data_dir: &Path, database_url: Option<&str>) -> (Running, String) {
    let mut cmd = anshang(data_dir, database_url);
    cmd.args(["serve", "--port", "0"]);
    let (child, port, printed) = common::spawn_served(cmd);
    assert!(common::printed_password(&printed).is_none(), "the restored accounts are used: {printed:?}");
    (Running(child), format!("http://127.0.0.1:{port}"))
}

fn audit_verify(data_dir: &Path, database_url: Option<&str>) -> (bool, String) {
    let out = anshang(data_dir, database_url).args(["audit", "verify"]).output().unwrap();
    (out.status.success(), said(&out))
}

#[test]
fn a_backup_taken_while_serving_restores_and_serves_the_same_complaints_files_trail_and_results() {
    let app = common::spawn_app();
    let seen = build_instance(&app);
    let scratch = tempfile::tempdir().unwrap();
    let restored = scratch.path().join("restored-data");
    let (url, _restored_db) = back_up_and_restore(&app, scratch.path(), &restored);
    let url = url.as_deref();
    drop(app); // the original is gone; only the backup is left

    let (server, base) = serve(&restored, url);
    for (filed, before) in &seen.complaints {
        assert_eq!(&tracking(&base, filed), before, "tracking view of {}", filed.number);
        for (id, bytes) in &filed.files {
            let (status, body) = get(
                &base,
                &format!("/api/v1/track/{}/attachments/{id}", filed.number),
                &[("X-Access-Code", &filed.code)],
            );
            assert_eq!(status, 200, "{body}");
            assert_eq!(body.as_bytes(), bytes.as_slice(), "the file comes back byte for byte");
        }
    }
    let replied = &seen.complaints[2].1;
    assert_eq!(replied["reply"]["text"], "The permit was issued today.");
    let (status, body) = get(&base, &format!("/api/v1/ballots/{}/results", seen.round), &[]);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), seen.results);
    let (_, bulletin) = get(&base, &format!("/api/v1/ballots/{}/bulletin", seen.round), &[]);
    assert_eq!(hex::encode(sha2::Sha256::digest(bulletin.as_bytes())), seen.bulletin_sha256);
    let (status, page) = get(&base, &format!("/vote/{}/results", seen.round), &[("Accept-Language", "en")]);
    assert_eq!(status, 200);
    assert!(page.contains(&seen.bulletin_sha256), "the results page shows the same bulletin hash");
    // The token key came back: a session of the original instance is still good.
    let (status, _) = get(&base, "/api/v1/users", &[("Authorization", &format!("Bearer {}", seen.admin_token))]);
    assert_eq!(status, 200, "the original's token is accepted");
    drop(server);

    let (intact, text) = audit_verify(&restored, url);
    assert!(intact && text.contains("audit trail intact"), "{text}");

    // Tampered with after the restore: the restored trail catches it.
    let db_url = url.map(str::to_string).unwrap_or_else(|| restored.join("anshang.db").display().to_string());
    let pool = anshang::db::connect_pool(
        &anshang::db::DatabaseUrl::parse(&db_url, &restored).unwrap(),
        1,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let changed = diesel::sql_query("UPDATE complaint_events SET detail = detail || ' ' WHERE action = 'reply'")
        .execute(&mut *pool.get().unwrap())
        .unwrap();
    assert_eq!(changed, 1);
    drop(pool);
    let (intact, text) = audit_verify(&restored, url);
    assert!(!intact && text.contains("TAMPERED complaint CZ-"), "{text}");
}

#[test]
fn backup_refuses_clearly_and_restore_refuses_altered_or_occupied_places() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = anshang(&data, None).args(["demo", "load"]).output().unwrap();
    assert!(out.status.success(), "{}", said(&out));

    let backup = dir.path().join("backup");
    let out = anshang(&data, None).arg("backup").arg("--out").arg(&backup).output().unwrap();
    assert!(out.status.success(), "{}", said(&out));
    // Never generated (no serve ran): said, not invented.
    assert!(said(&out).contains("token key: none generated yet"), "{}", said(&out));

    let out = anshang(&data, None).arg("backup").arg("--out").arg(&backup).output().unwrap();
    assert!(!out.status.success() && said(&out).contains("exists: a backup never overwrites"), "{}", said(&out));
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, "x").unwrap();
    let out = anshang(&data, None).arg("backup").arg("--out").arg(blocked.join("backup")).output().unwrap();
    assert!(!out.status.success() && said(&out).contains("cannot write the backup at"), "{}", said(&out));
    let out = anshang(&data, Some("postgres://anshang:pg-secret-pw@127.0.0.1:1/x"))
        .arg("backup")
        .arg("--out")
        .arg(dir.path().join("pg"))
        .output()
        .unwrap();
    let text = said(&out);
    assert!(!out.status.success() && text.contains("pg_dump -Fc") && !text.contains("pg-secret-pw"), "{text}");
    assert!(!dir.path().join("pg").exists());

    // Restore into the occupied data directory: refused.
    let out = anshang(&data, None).arg("restore").arg("--from").arg(&backup).output().unwrap();
    assert!(!out.status.success() && said(&out).contains("is not empty"), "{}", said(&out));
    // A restore with another audit key configured: refused before anything is written.
    let elsewhere = dir.path().join("elsewhere");
    let out = anshang(&elsewhere, None)
        .env("ANSHANG__AUTH__AUDIT_KEY", "another-audit-key-0123456789abcdef-0123")
        .arg("restore")
        .arg("--from")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!out.status.success() && said(&out).contains("auth.audit_key"), "{}", said(&out));
    assert!(!elsewhere.join("anshang.db").exists());
    // One byte of the copy changed: the manifest's checksum catches it.
    let mut bytes = std::fs::read(backup.join("anshang.db")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(backup.join("anshang.db"), &bytes).unwrap();
    let out = anshang(&elsewhere, None).arg("restore").arg("--from").arg(&backup).output().unwrap();
    assert!(!out.status.success() && said(&out).contains("differs from the backup's manifest"), "{}", said(&out));
    assert!(!elsewhere.join("anshang.db").exists());
}
