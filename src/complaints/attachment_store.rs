//! Attachment contents in the database, so that every instance serves every file and no shared
//! volume is needed: one copy per content (`attachment_blobs`, named by its SHA-256), in chunks
//! of [`CHUNK_BYTES`] (`attachment_chunks`). A content is written chunk by chunk from the
//! uploader's temporary file in the transaction that records the attachment, and read back one
//! chunk at a time, so no whole file is held in memory.
//!
//! Earlier versions kept the files on disk as `<attachment_dir>/<sha256>`; [`import_from_disk`]
//! copies those a row names into the database at start.

use std::io::Read;
use std::path::Path;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use sha2::{Digest, Sha256};

use crate::complaints::error::{ComplaintError, ComplaintResult};
use crate::db::schema::{attachment_blobs, attachment_chunks, complaint_attachments};
use crate::db::DbConnection;

/// Size of one stored chunk: small enough for one row and one read, large enough that a 10 MiB
/// file is 40 rows.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// How many chunks a content of `size` bytes takes.
pub fn chunks_for(size: usize) -> i32 {
    i32::try_from(size.div_ceil(CHUNK_BYTES)).unwrap_or(i32::MAX)
}

/// Stores the content of `file` (`size` bytes, named `sha256`) unless it is stored already; in
/// the caller's transaction. The bytes are hashed again as they are read: what is stored is
/// what was named, or nothing (the transaction fails).
pub fn store(conn: &mut DbConnection, sha256: &str, size: usize, file: &Path) -> ComplaintResult<()> {
    if !is_hash(sha256) {
        return Err(ComplaintError::internal("attachment", "content name is not a hash"));
    }
    if claim(conn, sha256, size)? == 0 {
        // The same content is stored already (or being stored by a transaction that committed
        // first: the insert waited for it).
        return Ok(());
    }
    let mut reader = std::fs::File::open(file).map_err(|e| ComplaintError::internal("reading attachment", e))?;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let (mut hasher, mut total, mut seq) = (Sha256::new(), 0usize, 0i32);
    loop {
        let n = fill(&mut reader, &mut buf).map_err(|e| ComplaintError::internal("reading attachment", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        diesel::insert_into(attachment_chunks::table)
            .values((
                attachment_chunks::sha256.eq(sha256),
                attachment_chunks::seq.eq(seq),
                attachment_chunks::bytes.eq(&buf[..n]),
            ))
            .execute(conn)?;
        total += n;
        seq += 1;
    }
    if total != size || hex::encode(hasher.finalize()) != sha256 {
        return Err(ComplaintError::internal("attachment", "the file changed between upload and storing"));
    }
    Ok(())
}

/// Inserts the content's row unless present; returns 1 when this transaction stores it.
/// `ON CONFLICT DO NOTHING` rather than look-then-insert: two uploads of one content at once
/// (two instances) both succeed, and one copy is kept.
fn claim(conn: &mut DbConnection, sha256: &str, size: usize) -> QueryResult<usize> {
    let sql = match conn {
        DbConnection::Pg(_) => {
            "INSERT INTO attachment_blobs (sha256, size_bytes, chunks) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING"
        }
        DbConnection::Sqlite(_) => {
            "INSERT INTO attachment_blobs (sha256, size_bytes, chunks) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING"
        }
    };
    diesel::sql_query(sql)
        .bind::<Text, _>(sha256)
        .bind::<BigInt, _>(size as i64)
        .bind::<Integer, _>(chunks_for(size))
        .execute(conn)
}

/// Reads until `buf` is full or the file ends.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn is_hash(sha: &str) -> bool {
    sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A stored content's size in bytes and number of chunks.
pub fn find(conn: &mut DbConnection, sha256: &str) -> QueryResult<Option<(i64, i32)>> {
    attachment_blobs::table
        .find(sha256)
        .select((attachment_blobs::size_bytes, attachment_blobs::chunks))
        .first(conn)
        .optional()
}

/// One chunk of a stored content.
pub fn read_chunk(conn: &mut DbConnection, sha256: &str, seq: i32) -> QueryResult<Option<Vec<u8>>> {
    attachment_chunks::table.find((sha256, seq)).select(attachment_chunks::bytes).first(conn).optional()
}

/// What [`import_from_disk`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Files copied into the database.
    pub imported: usize,
    /// Contents a row names that are neither in the database nor on disk.
    pub missing: usize,
    /// Files that could not be copied (unreadable, or not the content their name says).
    pub failed: usize,
}

/// Copies into the database every file an attachment row names that is stored only on disk
/// (`<dir>/<sha256>`, as earlier versions kept them), each in its own transaction. The files
/// are left where they are. Idempotent, and safe for several instances at once.
pub fn import_from_disk(conn: &mut DbConnection, dir: &Path) -> ComplaintResult<Imported> {
    let pending: Vec<String> = complaint_attachments::table
        .filter(diesel::dsl::not(diesel::dsl::exists(
            attachment_blobs::table.filter(attachment_blobs::sha256.eq(complaint_attachments::sha256)),
        )))
        .select(complaint_attachments::sha256)
        .distinct()
        .load(conn)?;
    let mut done = Imported::default();
    for sha in pending {
        let path = dir.join(&sha);
        let size = match std::fs::metadata(&path) {
            Ok(m) if is_hash(&sha) => m.len() as usize,
            Ok(_) => {
                done.failed += 1;
                continue;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                done.missing += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(sha256 = %sha, error = %e, "attachment file unreadable; left on disk");
                done.failed += 1;
                continue;
            }
        };
        match conn.transaction(|conn| store(conn, &sha, size, &path)) {
            Ok(()) => done.imported += 1,
            Err(e) => {
                tracing::warn!(sha256 = %sha, error = %e, "attachment file not imported; left on disk");
                done.failed += 1;
            }
        }
    }
    Ok(done)
}
