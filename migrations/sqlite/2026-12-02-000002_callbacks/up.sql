-- Notices for callers who gave no email address (a phone-only hotline caller): instead of an
-- email, a line on the operators' call-back list (complaints::callbacks), with the notice's
-- text in the caller's language, until an operator marks it called.
CREATE TABLE callbacks (
    id TEXT PRIMARY KEY NOT NULL,
    complaint_id TEXT NOT NULL REFERENCES complaints (id),
    notice TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    done_at TIMESTAMP,
    done_by TEXT REFERENCES users (id)
);
CREATE INDEX callbacks_open ON callbacks (done_at, created_at);
