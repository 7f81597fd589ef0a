-- A credential keeps only what casting needs: its hash, its round, whether it is spent, and its
-- scope (the voter category and the departments it may rate) sealed under a key derived from the
-- code itself, so that nothing stored ties a code to a roll entry (see src/ballots/scope.rs).
-- Credentials issued before this change keep their scope in the clear ("v0:") until their round
-- closes.
CREATE TABLE ballot_credentials_sealed (
    code_hash TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    used BOOLEAN NOT NULL
) WITHOUT ROWID;
INSERT INTO ballot_credentials_sealed (code_hash, round_id, scope, used)
    SELECT code_hash, round_id, 'v0:' || json_object('category', category, 'departments', json(departments)), used FROM ballot_credentials;
DROP TABLE ballot_credentials;
ALTER TABLE ballot_credentials_sealed RENAME TO ballot_credentials;
