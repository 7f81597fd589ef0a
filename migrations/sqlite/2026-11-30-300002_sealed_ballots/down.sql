DROP TABLE sealed_ballots;
ALTER TABLE ballot_rounds DROP COLUMN seal_recipient;
ALTER TABLE ballot_rounds DROP COLUMN threshold;
ALTER TABLE ballot_rounds DROP COLUMN trustees;
