//! Attachments: the type is sniffed from the bytes (the declared type is not trusted), names are
//! sanitised, contents are stored in the database under their SHA-256 (`attachment_store`; no
//! path from the client is ever used), and confidential complaints' files are shown only to the
//! assigned department and the coordination office.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::schema::complaint_attachments;
use crate::db::DbConnection;
use crate::error::{ApiError, FieldError};
use crate::ids::ComplaintId;

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = complaint_attachments)]
pub struct AttachmentRow {
    pub id: String,
    pub complaint_id: ComplaintId,
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

/// An upload received into a temporary file (`.<sha256>.<random>.tmp` or `.spool.<random>.tmp`
/// in the instance's spool directory, synced), waiting for the transaction that records it to
/// copy it into the database ([`super::attachment_store::store`]). The temporary file is removed
/// when this is dropped, stored or not; a crash in between leaves only a temporary file, which
/// [`sweep_stray`] removes.
pub struct Staged {
    tmp: PathBuf,
    pub sha256: String,
    pub size: usize,
}

const TMP_SUFFIX: &str = ".tmp";

/// Writes the bytes to a temporary file in `dir`.
pub fn stage(dir: &Path, bytes: &[u8]) -> Result<Staged, ApiError> {
    let sha = hex::encode(Sha256::digest(bytes));
    std::fs::create_dir_all(dir).map_err(|e| ApiError::internal("attachment directory", e))?;
    let tmp: PathBuf = dir.join(format!(".{sha}.{}{TMP_SUFFIX}", uuid::Uuid::new_v4().simple()));
    let staged = Staged { tmp: tmp.clone(), sha256: sha, size: bytes.len() };
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    write().map_err(|e| ApiError::internal("writing attachment", e))?;
    Ok(staged)
}

/// A file being received: streamed to a temporary file in the spool directory while its hash,
/// size and sniffing traits are gathered, so that no more than one chunk is in memory.
pub struct Spool {
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
        Ok(Spool { path, file, hasher: Sha256::new(), size: 0, traits: Traits::new() })
    }

    pub fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.file.write_all(chunk)?;
        self.hasher.update(chunk);
        self.traits.feed(chunk);
        self.size += chunk.len();
        Ok(())
    }

    /// Synced; a staged file from now on (stored when its row commits).
    pub fn finish(mut self) -> std::io::Result<(Staged, Traits)> {
        self.file.sync_all()?;
        self.traits.finish();
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let staged = Staged { tmp: std::mem::take(&mut self.path), sha256: sha, size: self.size };
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
        std::fs::read(&self.tmp)
    }

    /// The temporary file, for storing its content.
    pub fn path(&self) -> &Path {
        &self.tmp
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Temporary files younger than this may belong to an upload in progress (of this instance, or
/// of another one where several still share a directory) and are left alone.
pub const STRAY_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes temporary files left by a stop while an upload was being received or recorded: such
/// an upload was never acknowledged, and its content is in the database or nowhere. Files younger
/// than `older_than`, and files that are not ours, are left alone. Returns how many it removed.
pub fn sweep_stray(dir: &Path, older_than: std::time::Duration) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with('.') && name.ends_with(TMP_SUFFIX)) {
            continue;
        }
        let age = entry.metadata()?.modified()?.elapsed().unwrap_or_default();
        if age >= older_than {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

pub fn list(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<Vec<AttachmentRow>> {
    complaint_attachments::table
        .filter(complaint_attachments::complaint_id.eq(complaint_id))
        .order(complaint_attachments::uploaded_at.asc())
        .select(AttachmentRow::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, complaint_id: &ComplaintId, id: &str) -> QueryResult<Option<AttachmentRow>> {
    complaint_attachments::table
        .find(id)
        .filter(complaint_attachments::complaint_id.eq(complaint_id))
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()
}

pub fn count(conn: &mut DbConnection, complaint_id: &ComplaintId) -> QueryResult<i64> {
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

/// A stored file as a download: its type, a safe `Content-Disposition`, never cached; the
/// content streamed from the database one chunk at a time.
pub async fn download_response(pool: &crate::db::Pool, a: &AttachmentRow) -> Result<actix_web::HttpResponse, ApiError> {
    use super::attachment_store;
    use actix_web::http::header;
    let sha = a.sha256.clone();
    let (size, chunks) = crate::db::run(pool, move |conn| {
        attachment_store::find(conn, &sha)?.ok_or_else(|| ApiError::internal("attachment", "content not stored"))
    })
    .await?;
    let (pool, sha) = (pool.clone(), a.sha256.clone());
    let body = futures_util::stream::unfold(0, move |seq| {
        let (pool, sha) = (pool.clone(), sha.clone());
        async move {
            if seq >= chunks {
                return None;
            }
            let chunk = crate::db::run(&pool, move |conn| {
                attachment_store::read_chunk(conn, &sha, seq)?
                    .ok_or_else(|| ApiError::internal("attachment", "chunk not stored"))
            })
            .await
            .map(actix_web::web::Bytes::from);
            // After a failure the response is cut short: nothing more is read.
            let next = if chunk.is_ok() { seq + 1 } else { chunks };
            Some((chunk, next))
        }
    });
    Ok(actix_web::HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, a.content_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(&a.filename)))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .no_chunking(u64::try_from(size).unwrap_or_default())
        .streaming(body))
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
    fn staged_files_are_temporary_and_gone_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let staged = stage(dir.path(), b"kept").unwrap();
        assert_eq!(staged.sha256, hex::encode(Sha256::digest(b"kept")));
        assert_eq!(staged.read().unwrap(), b"kept");
        assert!(staged.path().file_name().unwrap().to_string_lossy().ends_with(TMP_SUFFIX));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        drop(staged);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "removed once dropped");
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
    fn stray_temporary_files_are_removed_once_old_enough() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!(".{}.1234{TMP_SUFFIX}", "a".repeat(64))), b"r").unwrap();
        std::fs::write(dir.path().join(format!(".spool.5678{TMP_SUFFIX}")), b"u").unwrap();
        std::fs::write(dir.path().join("not-ours.txt"), b"x").unwrap();
        std::fs::write(dir.path().join("b".repeat(64)), b"a file of an earlier version").unwrap();
        assert_eq!(sweep_stray(dir.path(), STRAY_AFTER).unwrap(), 0, "young ones may be uploads in progress");
        assert_eq!(sweep_stray(dir.path(), std::time::Duration::ZERO).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["b".repeat(64), "not-ours.txt".to_string()]);
        assert_eq!(sweep_stray(&dir.path().join("missing"), std::time::Duration::ZERO).unwrap(), 0);
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
