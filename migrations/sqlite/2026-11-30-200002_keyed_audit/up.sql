-- The audit trail becomes keyed (HMAC-SHA256 under a key outside the database). A row per
-- chain says under which key (by its id, never the key) the chain was sealed; at the first start
-- with this migration the existing chains are re-sealed and the re-seal is logged.
CREATE TABLE audit_seals (
    chain TEXT PRIMARY KEY NOT NULL,
    key_id TEXT NOT NULL,
    sealed_at TIMESTAMP NOT NULL
);
-- The admin log gets a chain of its own: one sequence over all its rows.
ALTER TABLE admin_events ADD COLUMN seq INTEGER;
ALTER TABLE admin_events ADD COLUMN prev_hash TEXT;
ALTER TABLE admin_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX admin_events_seq ON admin_events (seq);
