-- Finalised yearly assessments: each finalisation is a new version with its formula and
-- reason; later data never changes a stored version.
CREATE TABLE assessment_snapshots (
    year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    formula_version TEXT NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    finalized_by TEXT NOT NULL,
    reason TEXT,
    report TEXT NOT NULL,
    PRIMARY KEY (year, version)
);
