//! Attachments: the type is sniffed from the bytes (the declared type is not trusted), names are
//! sanitised, files are stored under their SHA-256 (no path from the client is ever used), and
//! confidential complaints' files are shown only to the assigned department and the coordination
//! office.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::complaint_attachments;
use crate::db::DbConnection;
use crate::error::{ApiError, FieldError};

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = complaint_attachments)]
pub struct AttachmentRow {
    pub id: String,
    pub complaint_id: String,
    pub sha256: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub uploaded_at: NaiveDateTime,
    pub uploaded_by: String,
}

#[derive(Serialize, utoipa::ToSchema, Debug)]
pub struct AttachmentView {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub uploaded_at: chrono::DateTime<chrono::FixedOffset>,
}

impl From<&AttachmentRow> for AttachmentView {
    fn from(a: &AttachmentRow) -> Self {
        AttachmentView {
            id: a.id.clone(),
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            size_bytes: a.size_bytes,
            uploaded_at: crate::db::from_db_time(a.uploaded_at).with_timezone(&crate::calendar::shanghai()),
        }
    }
}

/// Who may open the files of a complaint — and so read their names: everyone who sees the
/// complaint, except that the files of a confidential one (trade secrets) are for the
/// coordination office and the assigned department only.
pub fn may_open(confidential: bool, role: crate::auth::roles::Role) -> bool {
    use crate::auth::roles::Role;
    !confidential || matches!(role, Role::Coordinator | Role::Department)
}

/// Stands for a file name the reader may not see.
pub const HIDDEN_NAME: &str = "(confidential)";

/// The accepted kinds: (content type, extensions that may carry it).
const ACCEPTED: &[(&str, &[&str])] = &[
    ("application/pdf", &["pdf"]),
    ("image/png", &["png"]),
    ("image/jpeg", &["jpg", "jpeg"]),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", &["docx"]),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", &["xlsx"]),
    ("text/plain; charset=utf-8", &["txt"]),
];

/// What the bytes are, judged by their first bytes and the name's extension together.
pub fn sniff(bytes: &[u8], filename: &str) -> Result<&'static str, FieldError> {
    sniff_traits(&Traits::of(bytes), filename)
}

/// What sniffing needs to know of a file, gathered in one pass (so a file streamed to disk
/// need not be held in memory): its first bytes, whether it names a Word or Excel part, whether
/// it is UTF-8 text without NUL.
#[derive(Debug, Clone)]
pub struct Traits {
    head: Vec<u8>,
    has_word: bool,
    has_xl: bool,
    text: bool,
    /// Bytes of an incomplete UTF-8 sequence at the end of what was seen, and the last few
    /// bytes (for markers that straddle two chunks).
    carry: Vec<u8>,
    tail: Vec<u8>,
}

const HEAD_BYTES: usize = 16;

impl Traits {
    pub fn new() -> Traits {
        Traits { head: Vec::new(), has_word: false, has_xl: false, text: true, carry: Vec::new(), tail: Vec::new() }
    }

    pub fn of(bytes: &[u8]) -> Traits {
        let mut t = Traits::new();
        t.feed(bytes);
        t.finish();
        t
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(chunk);
        self.has_word |= contains(&window, b"word/");
        self.has_xl |= contains(&window, b"xl/");
        let keep = window.len().min(4);
        self.tail = window[window.len() - keep..].to_vec();
        if self.text {
            if chunk.contains(&0) {
                self.text = false;
                return;
            }
            let mut buf = std::mem::take(&mut self.carry);
            buf.extend_from_slice(chunk);
            match std::str::from_utf8(&buf) {
                Ok(_) => {}
                Err(e) if e.error_len().is_none() => self.carry = buf[e.valid_up_to()..].to_vec(),
                Err(_) => self.text = false,
            }
        }
    }

    /// The end of the file: an unfinished UTF-8 sequence makes it not text.
    pub fn finish(&mut self) {
        if !self.carry.is_empty() {
            self.text = false;
        }
    }
}

impl Default for Traits {
    fn default() -> Self {
        Traits::new()
    }
}

/// [`sniff`] on gathered traits.
pub fn sniff_traits(t: &Traits, filename: &str) -> Result<&'static str, FieldError> {
    let bytes = t.head.as_slice();
    let ext = filename.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let refuse = || {
        FieldError::new(
            "file",
            "unsupported_type",
            "accepted: PDF, PNG, JPEG, Word (.docx), Excel (.xlsx) and plain text (.txt), with a matching extension",
        )
    };
    let kind = if bytes.starts_with(b"%PDF-") {
        "application/pdf"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"PK\x03\x04") && ext == "docx" && t.has_word {
        ACCEPTED[3].0
    } else if bytes.starts_with(b"PK\x03\x04") && ext == "xlsx" && t.has_xl {
        ACCEPTED[4].0
    } else if ext == "txt" && t.text {
        ACCEPTED[5].0
    } else {
        return Err(refuse());
    };
    let extensions = ACCEPTED.iter().find(|(t, _)| *t == kind).map(|(_, e)| *e).unwrap_or(&[]);
    if extensions.contains(&ext.as_str()) {
        Ok(kind)
    } else {
        Err(refuse())
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A display name safe to store and show: the last path component, no control characters or
/// reserved punctuation, 1–120 characters, never `.` or `..`.
pub fn sanitize_filename(raw: &str) -> Result<String, FieldError> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| if "<>:\"|?*%".contains(c) { '_' } else { c })
        .collect::<String>()
        .trim_end()
        .to_string();
    // The last 120 characters keep the extension; a name may not start with a dot (hidden
    // files, `.` and `..`) or a blank, even where the cut falls.
    let cut: String = cleaned.chars().rev().take(120).collect::<Vec<_>>().into_iter().rev().collect();
    let cut = cut.trim_start_matches(|c: char| c == '.' || c.is_whitespace()).to_string();
    if cut.is_empty() {
        return Err(FieldError::new("filename", "required", "give the file's name (e.g. ?filename=permit.pdf)"));
    }
    Ok(cut)
}

/// A file written under a temporary name (`.<sha256>.<random>.tmp`, synced), waiting for the
/// transaction that records it. [`Staged::commit`] moves it into place as `<dir>/<sha256>`; if
/// it is dropped uncommitted (a refusal, a failed transaction), the temporary file is removed.
/// A crash in between leaves only a temporary file, which [`sweep_stray`] settles at start.
pub struct Staged {
    dir: PathBuf,
    tmp: Option<PathBuf>,
    pub sha256: String,
    pub size: usize,
}

const TMP_SUFFIX: &str = ".tmp";

/// Writes the bytes to a temporary file in `dir`.
pub fn stage(dir: &Path, bytes: &[u8]) -> Result<Staged, ApiError> {
    let sha = hex::encode(Sha256::digest(bytes));
    std::fs::create_dir_all(dir).map_err(|e| ApiError::internal("attachment directory", e))?;
    let tmp: PathBuf = dir.join(format!(".{sha}.{}{TMP_SUFFIX}", uuid::Uuid::new_v4().simple()));
    let staged = Staged { dir: dir.to_path_buf(), tmp: Some(tmp.clone()), sha256: sha, size: bytes.len() };
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| ApiError::internal("writing attachment", e))?;
    Ok(staged)
}

/// A file being received: streamed to a temporary file in the attachment directory while its
/// hash, size and sniffing traits are gathered, so that no more than one chunk is in memory.
pub struct Spool {
    dir: PathBuf,
    path: PathBuf,
    file: std::fs::File,
    hasher: Sha256,
    pub size: usize,
    pub traits: Traits,
}

impl Spool {
    pub fn create(dir: &Path) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!(".spool.{}{TMP_SUFFIX}", uuid::Uuid::new_v4().simple()));
        let file = std::fs::File::create(&path)?;
        Ok(Spool { dir: dir.to_path_buf(), path, file, hasher: Sha256::new(), size: 0, traits: Traits::new() })
    }

    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk)?;
        self.hasher.update(chunk);
        self.traits.feed(chunk);
        self.size += chunk.len();
        Ok(())
    }

    /// Synced and renamed to a staged file (moved into place when its row commits).
    pub fn finish(mut self) -> std::io::Result<(Staged, Traits)> {
        self.file.sync_all()?;
        self.traits.finish();
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let tmp = self.dir.join(format!(".{sha}.{}{TMP_SUFFIX}", uuid::Uuid::new_v4().simple()));
        std::fs::rename(&self.path, &tmp)?;
        let staged = Staged { dir: self.dir.clone(), tmp: Some(tmp), sha256: sha, size: self.size };
        self.path = PathBuf::new();
        Ok((staged, std::mem::take(&mut self.traits)))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Staged {
    /// The bytes (for a small file read as a whole, such as a voter roll).
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.tmp.as_ref().ok_or_else(|| std::io::Error::other("already placed"))?)
    }

    /// Moves the file into place (once the row naming it has committed).
    pub fn commit(mut self) -> Result<(), ApiError> {
        let Some(tmp) = self.tmp.take() else { return Ok(()) };
        let target = self.dir.join(&self.sha256);
        let result = if target.exists() {
            std::fs::remove_file(&tmp)
        } else {
            std::fs::rename(&tmp, &target).and_then(|()| std::fs::File::open(&self.dir)?.sync_all())
        };
        result.map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ApiError::internal("placing attachment", e)
        })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = self.tmp.take() {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// What [`sweep_stray`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Temporary files of a recorded attachment whose file was missing: moved into place.
    pub completed: usize,
    /// Temporary files nobody recorded: removed.
    pub removed: usize,
}

/// Settles temporary files left by a stop between writing and placing: one whose hash a row
/// names (`recorded`) and whose file is missing is moved into place, every other one removed.
pub fn sweep_stray(dir: &Path, recorded: &mut dyn FnMut(&str) -> bool) -> std::io::Result<Swept> {
    let mut swept = Swept::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(swept),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(inner) = name.strip_prefix('.').and_then(|n| n.strip_suffix(TMP_SUFFIX)) else { continue };
        let sha = inner.split('.').next().unwrap_or_default();
        let target = dir.join(sha);
        if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) && !target.exists() && recorded(sha) {
            std::fs::rename(entry.path(), &target)?;
            swept.completed += 1;
        } else {
            std::fs::remove_file(entry.path())?;
            swept.removed += 1;
        }
    }
    Ok(swept)
}

/// Whether any attachment row names this hash.
pub fn is_recorded(conn: &mut DbConnection, sha: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(complaint_attachments::table.filter(complaint_attachments::sha256.eq(sha))))
        .get_result(conn)
}

pub fn read_file(dir: &Path, sha: &str) -> Result<Vec<u8>, ApiError> {
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::internal("attachment", "stored name is not a hash"));
    }
    std::fs::read(dir.join(sha)).map_err(|e| ApiError::internal("reading attachment", e))
}

pub fn list(conn: &mut DbConnection, complaint_id: &str) -> QueryResult<Vec<AttachmentRow>> {
    complaint_attachments::table
        .filter(complaint_attachments::complaint_id.eq(complaint_id))
        .order(complaint_attachments::uploaded_at.asc())
        .select(AttachmentRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, complaint_id: &str, id: &str) -> QueryResult<Option<AttachmentRow>> {
    complaint_attachments::table
        .find(id)
        .filter(complaint_attachments::complaint_id.eq(complaint_id))
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()
}

pub fn count(conn: &mut DbConnection, complaint_id: &str) -> QueryResult<i64> {
    complaint_attachments::table.filter(complaint_attachments::complaint_id.eq(complaint_id)).count().get_result(conn)
}

/// `Content-Disposition` that survives any file name (RFC 6266 / 8187).
pub fn content_disposition(filename: &str) -> String {
    let ascii: String =
        filename.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' }).collect();
    let encoded: String = filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A stored file as a download: its type, a safe `Content-Disposition`, never cached.
pub fn download_response(dir: &Path, a: &AttachmentRow) -> Result<actix_web::HttpResponse, ApiError> {
    use actix_web::http::header;
    let bytes = read_file(dir, &a.sha256)?;
    Ok(actix_web::HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, a.content_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(&a.filename)))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn types_are_sniffed_not_trusted() {
        assert_eq!(sniff(b"%PDF-1.7 ...", "permit.PDF").unwrap(), "application/pdf");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nxxxx", "a.png").unwrap(), "image/png");
        assert!(sniff(b"%PDF-1.7", "permit.exe").is_err(), "extension must match");
        assert!(sniff(b"MZ\x90\x00", "permit.pdf").is_err(), "an executable named .pdf");
        assert!(sniff(b"<html><script>", "note.txt").is_ok(), "plain UTF-8 text is text");
        assert!(sniff(b"\x00\x01binary", "note.txt").is_err());
        assert!(sniff(b"PK\x03\x04....xl/workbook", "a.docx").is_err());
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(sanitize_filename("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\x\\报告.pdf").unwrap(), "报告.pdf");
        assert_eq!(sanitize_filename("..").unwrap_err().code, "required");
        assert_eq!(sanitize_filename("a\u{0}b<c>.pdf").unwrap(), "ab_c_.pdf");
        assert_eq!(sanitize_filename(&format!("{}.pdf", "x".repeat(300))).unwrap().chars().count(), 120);
        // Where the cut to 120 characters falls on a dot, the dot goes too.
        let name = sanitize_filename(&format!("{}. .{}", "x".repeat(100), "y".repeat(118))).unwrap();
        assert_eq!(name, "y".repeat(118));
    }

    #[test]
    fn staged_files_are_placed_on_commit_and_gone_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let kept = stage(dir.path(), b"kept").unwrap();
        let sha = kept.sha256.clone();
        let dropped = stage(dir.path(), b"dropped").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "both written under temporary names");
        assert!(!dir.path().join(&sha).exists(), "not in place before the commit");
        kept.commit().unwrap();
        drop(dropped);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![sha.clone()]);
        // The same bytes again: the file is already there, the temporary one goes.
        stage(dir.path(), b"kept").unwrap().commit().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn traits_gathered_chunk_by_chunk_sniff_like_the_whole_file() {
        let cases: [(&[u8], &str); 4] = [
            (b"PK\x03\x04 .... word/document.xml ....", "a.docx"),
            (b"PK\x03\x04 .... xl/workbook.xml ....", "a.xlsx"),
            ("投诉材料：完整的中文文本".as_bytes(), "a.txt"),
            (b"text with a \x00 NUL", "a.txt"),
        ];
        for (bytes, name) in cases {
            for split in 1..bytes.len() {
                let mut t = Traits::new();
                for chunk in bytes.chunks(split) {
                    t.feed(chunk);
                }
                t.finish();
                assert_eq!(sniff_traits(&t, name).ok(), sniff(bytes, name).ok(), "{name} in chunks of {split}");
            }
        }
        let mut cut = Traits::new();
        cut.feed(&"中".as_bytes()[..2]);
        cut.finish();
        assert!(sniff_traits(&cut, "a.txt").is_err(), "a file ending inside a character is not text");
    }

    #[test]
    fn stray_temporary_files_are_placed_when_recorded_and_removed_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let recorded = "a".repeat(64);
        let unrecorded = "b".repeat(64);
        std::fs::write(dir.path().join(format!(".{recorded}.1234{TMP_SUFFIX}")), b"r").unwrap();
        std::fs::write(dir.path().join(format!(".{unrecorded}.5678{TMP_SUFFIX}")), b"u").unwrap();
        std::fs::write(dir.path().join("not-ours.txt"), b"x").unwrap();
        let swept = sweep_stray(dir.path(), &mut |sha| sha == recorded).unwrap();
        assert_eq!(swept, Swept { completed: 1, removed: 1 });
        assert_eq!(std::fs::read(dir.path().join(&recorded)).unwrap(), b"r");
        assert!(!dir.path().join(&unrecorded).exists());
        assert!(dir.path().join("not-ours.txt").exists());
        assert_eq!(sweep_stray(&dir.path().join("missing"), &mut |_| true).unwrap(), Swept::default());
    }

    proptest! {
        #[test]
        fn sanitised_names_never_escape(raw in "\\PC{0,200}|[a-z]{100,130}\\.[ .]{1,3}[a-z]{1,30}") {
            if let Ok(name) = sanitize_filename(&raw) {
                prop_assert!(!name.contains('/') && !name.contains('\\'));
                prop_assert!(!name.starts_with('.'));
                prop_assert!(name.chars().count() <= 120 && !name.is_empty());
                prop_assert!(!name.chars().any(char::is_control));
            }
        }

        #[test]
        fn sniff_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), name in "[a-z]{1,8}\\.[a-z]{2,4}") {
            let _ = sniff(&bytes, &name);
        }
    }
}
