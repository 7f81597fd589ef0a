-- Replacing a lost code: each round has a revocation key pair. Its public half is stored here
-- from creation until the round closes; its private half is shown once, to the officer, and never
-- stored. Each unspent credential carries its roll entry's id encrypted to that public half, so
-- only the private half finds the code of a voter who lost it (see src/ballots/revocation.rs).
-- The tag is erased when the code is spent and when the round closes.
ALTER TABLE ballot_rounds ADD COLUMN revocation_recipient TEXT;
ALTER TABLE ballot_credentials ADD COLUMN roll_tag TEXT;
