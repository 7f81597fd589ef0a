ALTER TABLE ballot_voters DROP COLUMN language;
