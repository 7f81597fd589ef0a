-- Conduct ballots. The tables that hold votes (ballot_credentials, ballots, ballot_receipts)
-- carry no voter id, no credential id, no timestamp, no serial and no foreign key, and are
-- rewritten in random order at close so that every row shares one transaction id (xmin).

CREATE TABLE ballot_rounds (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    year INTEGER NOT NULL,
    status TEXT NOT NULL,
    opens_at TIMESTAMP NOT NULL,
    closes_at TIMESTAMP NOT NULL,
    min_group_size INTEGER NOT NULL,
    questions TEXT NOT NULL,
    points TEXT NOT NULL,
    quotas TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE ballot_round_departments (
    round_id TEXT NOT NULL REFERENCES ballot_rounds(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    PRIMARY KEY (round_id, department_id)
);

-- The roll: who may vote. It records only that a letter was issued, never which code.
CREATE TABLE ballot_voters (
    id TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL REFERENCES ballot_rounds(id),
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    contact TEXT NOT NULL,
    departments TEXT NOT NULL,
    letter_issued BOOLEAN NOT NULL
);
CREATE INDEX ballot_voters_round ON ballot_voters (round_id);

CREATE TABLE ballot_credentials (
    code_hash TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL,
    category TEXT NOT NULL,
    departments TEXT NOT NULL,
    used BOOLEAN NOT NULL
);

CREATE TABLE ballots (
    id TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    category TEXT NOT NULL,
    answers TEXT NOT NULL
);

CREATE TABLE ballot_receipts (
    receipt TEXT PRIMARY KEY NOT NULL,
    round_id TEXT NOT NULL
);

-- Emailed codes are made by the delivery worker at send time from this payload.
ALTER TABLE outbox ADD COLUMN payload TEXT;
