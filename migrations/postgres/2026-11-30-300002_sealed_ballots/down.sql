DROP TABLE sealed_ballots;
ALTER TABLE ballot_rounds DROP COLUMN seal_recipient, DROP COLUMN threshold, DROP COLUMN trustees;
