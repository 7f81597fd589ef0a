-- Ballots sealed at cast: each is encrypted to the round's public key (seal_recipient, set when
-- the round opens) and stored here; the private key exists only as key shares handed to the
-- trustees. At close the trustees' shares open the ballots, which are written to `ballots` in
-- random order; seal_recipient is then cleared and these rows deleted. No voter id, credential
-- id, time or serial; WITHOUT ROWID so rows sit in the order of their random ids.
ALTER TABLE ballot_rounds ADD COLUMN trustees INTEGER NOT NULL DEFAULT 1;
ALTER TABLE ballot_rounds ADD COLUMN threshold INTEGER NOT NULL DEFAULT 1;
ALTER TABLE ballot_rounds ADD COLUMN seal_recipient TEXT;
CREATE TABLE sealed_ballots (
    id TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL,
    sealed BLOB NOT NULL
) WITHOUT ROWID;
