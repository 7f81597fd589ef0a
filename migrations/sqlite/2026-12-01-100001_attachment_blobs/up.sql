-- Attachment contents, in the database so that every instance serves every file: one copy per
-- content (named by its SHA-256), in chunks of at most 256 KiB so that neither an upload nor a
-- download holds a whole file in memory. complaint_attachments rows name their content by hash.
CREATE TABLE attachment_blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    size_bytes BIGINT NOT NULL,
    chunks INTEGER NOT NULL
);
CREATE TABLE attachment_chunks (
    sha256 TEXT NOT NULL REFERENCES attachment_blobs (sha256),
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (sha256, seq)
);
