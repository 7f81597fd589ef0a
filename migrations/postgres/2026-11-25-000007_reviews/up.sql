-- Requests by departments to review (复核) their published score, and the commission's decision.
CREATE TABLE assessment_reviews (
    id TEXT PRIMARY KEY NOT NULL,
    year INTEGER NOT NULL,
    department_id TEXT NOT NULL REFERENCES departments(id),
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    reasons TEXT NOT NULL,
    decision_due_at TIMESTAMP NOT NULL,
    decision TEXT,
    decision_reason TEXT,
    decided_by TEXT,
    decided_at TIMESTAMP,
    new_version INTEGER
);
CREATE INDEX assessment_reviews_year ON assessment_reviews (year);
