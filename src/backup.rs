//! Backups of a SQLite installation and their restore. A backup is a directory that holds all a
//! restored instance needs and nothing can be rebuilt from elsewhere:
//!
//! - `anshang.db`: a consistent copy of the live database (`VACUUM INTO`), checked with
//!   `PRAGMA integrity_check` after it is written;
//! - `audit.key` and `jwt.key`: the audit key (without it the restored trail cannot be verified)
//!   and the token-signing key (without it every session is void), when they come from files —
//!   a key given inline in the configuration or the environment is the operator's to keep;
//! - the uploaded files are inside the database (`attachment_blobs`, `attachment_chunks`), so
//!   the copy holds them; nothing else is to be copied;
//! - `manifest.json`, written last: every file with its size and SHA-256, and where each key is.
//!
//! A restore checks the manifest, refuses to write over anything, puts each piece where the
//! settings of the restoring instance look for it and checks the restored database. PostgreSQL
//! is backed up with its own tools (`pg_dump -Fc`, docs/operations.md).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use diesel::{Connection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::keys::{self, KeySource};
use crate::config::Settings;
use crate::db::DatabaseUrl;

/// The manifest's `format`: a restore refuses any other.
pub const FORMAT: &str = "anshang-backup/1";
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "anshang.db";
const AUDIT_KEY: &str = "audit.key";
const TOKEN_KEY: &str = "jwt.key";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the database is PostgreSQL: back it up with `pg_dump -Fc` and restore it with `pg_restore --no-owner`, and keep the key files with the dump (docs/operations.md, \"Backups and the restore drill\")")]
    Postgres,
    #[error("{0} exists: a backup never overwrites; choose a new directory")]
    TargetExists(String),
    #[error("cannot write the backup at {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{0}")]
    Database(String),
    #[error("the copy at {path} fails PRAGMA integrity_check: {report}")]
    Integrity { path: String, report: String },
    #[error("{path} is not a complete backup: {problem}")]
    NotABackup { path: String, problem: String },
    #[error("{path} differs from the backup's manifest ({problem}): the backup is damaged or was altered")]
    Altered { path: String, problem: String },
    #[error("{0} is not empty: a restore goes into a fresh place only")]
    NotEmpty(String),
    #[error("the {0} the configuration supplies is not the one this backup's audit trail was sealed with")]
    WrongAuditKey(&'static str),
    #[error("this backup does not hold the audit key (it was set inline): configure the same auth.audit_key before restoring")]
    AuditKeyNotInBackup,
    #[error("{0} exists and holds another key: a restore does not replace keys")]
    KeyConflict(String),
    #[error("{0}")]
    Key(#[from] keys::KeyError),
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Write { path: path.display().to_string(), source }
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Read { path: path.display().to_string(), source }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub created_at: String,
    pub anshang_version: String,
    /// Every file of the backup but the manifest, relative to the backup directory.
    pub files: Vec<ManifestFile>,
    pub audit_key: KeyNote,
    pub token_key: KeyNote,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Whether a key is in the backup, and if not, where the operator keeps it.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyNote {
    /// In the backup under this file name.
    Included { file: String },
    /// Supplied inline (configuration or environment) under this setting: not in the backup.
    Inline { setting: String },
    /// Not generated yet (no `serve` has run): nothing was signed with it.
    NotGenerated,
}

/// What a backup or restore did, for the operator (no secret in it).
#[derive(Debug)]
pub struct Summary {
    pub database_bytes: u64,
    /// Distinct file contents stored in the copied database.
    pub attachments: i64,
    pub keys: Vec<String>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "database {} bytes (PRAGMA integrity_check: ok), {} stored attachment contents in it",
            self.database_bytes, self.attachments
        )?;
        for k in &self.keys {
            write!(f, "; {k}")?;
        }
        Ok(())
    }
}

fn sqlite_path(settings: &Settings) -> Result<PathBuf, BackupError> {
    match DatabaseUrl::parse(&settings.database.url, settings.data_dir()) {
        Ok(DatabaseUrl::Sqlite(path)) => Ok(path),
        Ok(DatabaseUrl::Postgres(_)) => Err(BackupError::Postgres),
        Err(e) => Err(BackupError::Database(e.to_string())),
    }
}

/// Writes a backup of the running installation to `out`, a directory that must not exist yet.
pub fn write(settings: &Settings, out: &Path) -> Result<Summary, BackupError> {
    sqlite_path(settings)?;
    if out.exists() {
        return Err(BackupError::TargetExists(out.display().to_string()));
    }
    let pool = crate::state::open_database(settings).map_err(|e| BackupError::Database(e.to_string()))?;
    create_private_dir(out)?;
    let database = out.join(DATABASE);
    let target = database.to_str().ok_or_else(|| BackupError::Database("the backup path is not UTF-8".into()))?;
    let mut conn = pool.get().map_err(|e| BackupError::Database(e.to_string()))?;
    diesel::sql_query(format!("VACUUM INTO '{}'", target.replace('\'', "''")))
        .execute(&mut *conn)
        .map_err(|e| BackupError::Database(format!("backup failed: {e}")))?;
    drop(conn);
    let attachments = check_integrity(&database)?;
    let mut files = vec![describe(out, DATABASE)?];

    let mut keys_said = Vec::new();
    let audit_key = save_key(out, AUDIT_KEY, "auth.audit_key", keys::audit_key_source(settings), &mut files)?;
    let token_key = save_key(out, TOKEN_KEY, "auth.jwt_secret", keys::secret_source(settings), &mut files)?;
    for (what, note) in [("audit key", &audit_key), ("token key", &token_key)] {
        keys_said.push(match note {
            KeyNote::Included { file } => format!("{what} in {file}"),
            KeyNote::Inline { setting } => {
                format!("{what} NOT included: it is set inline ({setting}); keep it with this backup")
            }
            KeyNote::NotGenerated => format!("{what}: none generated yet"),
        });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: chrono::Utc::now().to_rfc3339(),
        anshang_version: env!("CARGO_PKG_VERSION").into(),
        files,
        audit_key,
        token_key,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Database(e.to_string()))?;
    write_private(&out.join(MANIFEST), &json)?;
    let database_bytes = manifest.files[0].bytes;
    Ok(Summary { database_bytes, attachments, keys: keys_said })
}

/// Restores the backup in `from` into the places the settings name (the data directory, the
/// SQLite file, the key files), all of which must be empty or absent.
pub fn restore(settings: &Settings, from: &Path) -> Result<Summary, BackupError> {
    let database = sqlite_path(settings)?;
    let manifest = read_manifest(from)?;
    for f in &manifest.files {
        verify_file(from, f)?;
    }
    let data_dir = settings.data_dir();
    if fs::read_dir(data_dir).map(|mut d| d.next().is_some()).unwrap_or(false) {
        return Err(BackupError::NotEmpty(data_dir.display().to_string()));
    }
    if database.exists() {
        return Err(BackupError::NotEmpty(database.display().to_string()));
    }
    // The keys are settled before anything is written: a wrong audit key stops the restore.
    let audit = key_destination(from, &manifest.audit_key, keys::audit_key_source(settings))?;
    let token = key_destination(from, &manifest.token_key, keys::secret_source(settings))?;
    check_audit_key(&from.join(DATABASE), audit.as_ref().map(|(_, key)| key.as_slice()), settings)?;

    if !data_dir.exists() {
        if let Some(parent) = data_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(write_err(parent))?;
        }
        create_private_dir(data_dir)?;
    }
    if let Some(parent) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(write_err(parent))?;
    }
    fs::copy(from.join(DATABASE), &database).map_err(write_err(&database))?;
    let attachments = check_integrity(&database)?;
    let mut keys_said = Vec::new();
    for (what, placed) in [("audit key", audit), ("token key", token)] {
        keys_said.push(match placed {
            Some((path, key)) => {
                if !path.exists() {
                    write_private(&path, &key)?;
                }
                format!("{what} at {}", path.display())
            }
            None => format!("{what}: the configured value is used"),
        });
    }
    let database_bytes = fs::metadata(&database).map_err(read_err(&database))?.len();
    Ok(Summary { database_bytes, attachments, keys: keys_said })
}

fn read_manifest(from: &Path) -> Result<Manifest, BackupError> {
    let not_a_backup = |problem: String| BackupError::NotABackup { path: from.display().to_string(), problem };
    let text = fs::read(from.join(MANIFEST)).map_err(|e| not_a_backup(format!("{MANIFEST}: {e}")))?;
    let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| not_a_backup(format!("{MANIFEST}: {e}")))?;
    if manifest.format != FORMAT {
        return Err(not_a_backup(format!("format {:?}, this version reads {FORMAT:?}", manifest.format)));
    }
    if !manifest.files.iter().any(|f| f.path == DATABASE) {
        return Err(not_a_backup(format!("the manifest lists no {DATABASE}")));
    }
    for f in &manifest.files {
        // Only names this module writes: a manifest cannot send a restore elsewhere.
        if ![DATABASE, AUDIT_KEY, TOKEN_KEY].contains(&f.path.as_str()) {
            return Err(not_a_backup(format!("unexpected file {:?} in the manifest", f.path)));
        }
    }
    Ok(manifest)
}

fn verify_file(from: &Path, f: &ManifestFile) -> Result<(), BackupError> {
    let path = from.join(&f.path);
    let altered = |problem: String| BackupError::Altered { path: path.display().to_string(), problem };
    let bytes = fs::read(&path).map_err(|e| altered(e.to_string()))?;
    if bytes.len() as u64 != f.bytes {
        return Err(altered(format!("{} bytes, the manifest says {}", bytes.len(), f.bytes)));
    }
    if hex::encode(Sha256::digest(&bytes)) != f.sha256 {
        return Err(altered("its SHA-256 is not the one recorded".into()));
    }
    Ok(())
}

/// Where a key of the backup goes, with its bytes (`None`: the configuration supplies the key,
/// or supplied it when the backup was taken and still must).
fn key_destination(from: &Path, note: &KeyNote, source: KeySource) -> Result<Option<(PathBuf, Vec<u8>)>, BackupError> {
    let saved = match note {
        KeyNote::Included { file } => keys::read_secret(&from.join(file))?,
        KeyNote::Inline { .. } | KeyNote::NotGenerated => return Ok(None),
    };
    match source {
        KeySource::Inline => Ok(None),
        KeySource::ConfiguredFile(path) | KeySource::Generated(path) => {
            if path.exists() && keys::read_secret(&path)? != saved {
                return Err(BackupError::KeyConflict(path.display().to_string()));
            }
            Ok(Some((path, saved)))
        }
    }
}

/// The audit key the restored instance will use must be the one the backup's trail was sealed
/// with, or `anshang audit verify` would call every chain broken.
fn check_audit_key(database: &Path, restored_key: Option<&[u8]>, settings: &Settings) -> Result<(), BackupError> {
    #[derive(diesel::QueryableByName)]
    struct Seal {
        #[diesel(sql_type = diesel::sql_types::Text)]
        key_id: String,
    }
    let mut conn = open_plain(database)?;
    let seals: Vec<Seal> = diesel::sql_query("SELECT key_id FROM audit_seals")
        .load(&mut conn)
        .map_err(|e| BackupError::Database(format!("{}: {e}", database.display())))?;
    if seals.is_empty() {
        return Ok(());
    }
    let (key, setting): (Vec<u8>, &'static str) = match (restored_key, keys::audit_key_source(settings)) {
        (Some(key), _) => (key.to_vec(), "audit.key"),
        (None, KeySource::Inline) => (settings.auth.audit_key.as_bytes().to_vec(), "auth.audit_key"),
        (None, KeySource::ConfiguredFile(path)) => (keys::read_secret(&path)?, "auth.audit_key_file"),
        (None, KeySource::Generated(path)) if path.exists() => (keys::read_secret(&path)?, "audit.key"),
        (None, KeySource::Generated(_)) => return Err(BackupError::AuditKeyNotInBackup),
    };
    let id = crate::audit::key_id_of(&key);
    if seals.iter().any(|s| s.key_id != id) {
        return Err(BackupError::WrongAuditKey(setting));
    }
    Ok(())
}

/// A connection to a database file with no pragmas set (the pool would turn on WAL and leave
/// `-wal`/`-shm` files beside a copy).
fn open_plain(path: &Path) -> Result<diesel::SqliteConnection, BackupError> {
    let url = path.to_str().ok_or_else(|| BackupError::Database("the path is not UTF-8".into()))?;
    diesel::SqliteConnection::establish(url).map_err(|e| BackupError::Database(format!("{}: {e}", path.display())))
}

/// `PRAGMA integrity_check` on the SQLite file at `path` (it answers one row, `ok`, or the
/// problems found); returns how many attachment contents the file stores.
pub fn check_integrity(path: &Path) -> Result<i64, BackupError> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let mut conn = open_plain(path)?;
    let rows: Vec<Row> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .map_err(|e| BackupError::Integrity { path: path.display().to_string(), report: e.to_string() })?;
    let report: Vec<String> = rows.into_iter().map(|r| r.integrity_check).collect();
    if report != ["ok"] {
        return Err(BackupError::Integrity { path: path.display().to_string(), report: report.join("; ") });
    }
    use crate::db::schema::attachment_blobs;
    use diesel::QueryDsl;
    attachment_blobs::table
        .count()
        .get_result(&mut conn)
        .map_err(|e| BackupError::Integrity { path: path.display().to_string(), report: e.to_string() })
}

fn describe(dir: &Path, relative: &str) -> Result<ManifestFile, BackupError> {
    let path = dir.join(relative);
    let bytes = fs::read(&path).map_err(read_err(&path))?;
    Ok(ManifestFile { path: relative.into(), bytes: bytes.len() as u64, sha256: hex::encode(Sha256::digest(&bytes)) })
}

fn save_key(
    out: &Path,
    file: &str,
    setting: &str,
    source: KeySource,
    files: &mut Vec<ManifestFile>,
) -> Result<KeyNote, BackupError> {
    let path = match source {
        KeySource::Inline => return Ok(KeyNote::Inline { setting: setting.into() }),
        KeySource::ConfiguredFile(path) | KeySource::Generated(path) => path,
    };
    if !path.exists() {
        return Ok(KeyNote::NotGenerated);
    }
    let key = keys::read_secret(&path)?;
    write_private(&out.join(file), &key)?;
    files.push(describe(out, file)?);
    Ok(KeyNote::Included { file: file.into() })
}

/// A directory only its owner can enter (it holds keys).
fn create_private_dir(dir: &Path) -> Result<(), BackupError> {
    fs::create_dir(dir).map_err(write_err(dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(write_err(dir))?;
    }
    Ok(())
}

/// A new file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(write_err(path))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(write_err(path))
}
