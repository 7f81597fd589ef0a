-- Sealed scopes cannot be opened without their codes: those credentials come back with an
-- empty category and department list.
CREATE TABLE ballot_credentials_open (
    code_hash TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL,
    category TEXT NOT NULL,
    departments TEXT NOT NULL,
    used BOOLEAN NOT NULL
) WITHOUT ROWID;
INSERT INTO ballot_credentials_open (code_hash, round_id, category, departments, used)
    SELECT code_hash, round_id,
        CASE WHEN scope LIKE 'v0:%' THEN json_extract(substr(scope, 4), '$.category') ELSE '' END,
        CASE WHEN scope LIKE 'v0:%' THEN json_extract(substr(scope, 4), '$.departments') ELSE '[]' END,
        used
    FROM ballot_credentials;
DROP TABLE ballot_credentials;
ALTER TABLE ballot_credentials_open RENAME TO ballot_credentials;
