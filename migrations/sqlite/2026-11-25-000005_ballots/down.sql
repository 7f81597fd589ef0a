ALTER TABLE outbox DROP COLUMN payload;
DROP TABLE ballot_receipts;
DROP TABLE ballots;
DROP TABLE ballot_credentials;
DROP TABLE ballot_voters;
DROP TABLE ballot_round_departments;
DROP TABLE ballot_rounds;
