-- Files attached to a complaint. The bytes live in the attachment directory under their
-- SHA-256 (content-addressed, written and synced before this row commits).
CREATE TABLE complaint_attachments (
    id TEXT PRIMARY KEY NOT NULL,
    complaint_id TEXT NOT NULL REFERENCES complaints(id),
    sha256 TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    uploaded_at TIMESTAMP NOT NULL,
    uploaded_by TEXT NOT NULL
);
CREATE INDEX complaint_attachments_complaint ON complaint_attachments (complaint_id);
