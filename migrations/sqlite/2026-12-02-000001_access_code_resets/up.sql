-- Links that set a new access code for an investor who lost theirs (complaints::code_reset).
-- Only the SHA-256 of a link's secret is kept: a reader of this table cannot use a link. A link
-- works once (used_at), until expires_at; redeeming one retires every other link of the
-- complaint.
CREATE TABLE access_code_resets (
    token_hash TEXT PRIMARY KEY NOT NULL,
    complaint_id TEXT NOT NULL REFERENCES complaints (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX access_code_resets_complaint ON access_code_resets (complaint_id);
