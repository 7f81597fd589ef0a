-- Complaints, their response clocks and pauses, who held them, extension requests and the
-- hash-chained audit trail.

-- One row per year; incremented inside the filing transaction, so numbers are gapless.
CREATE TABLE tracking_counters (
    year INTEGER PRIMARY KEY NOT NULL,
    last_seq BIGINT NOT NULL
);

CREATE TABLE complaints (
    id TEXT PRIMARY KEY NOT NULL,
    tracking_number TEXT NOT NULL UNIQUE,
    tracking_year INTEGER NOT NULL,
    tracking_seq BIGINT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    language TEXT NOT NULL,
    complainant_type TEXT NOT NULL,
    complainant_name TEXT NOT NULL,
    company TEXT NOT NULL,
    nationality TEXT NOT NULL,
    email TEXT NOT NULL,
    phone TEXT NOT NULL,
    agent_name TEXT,
    agent_contact TEXT,
    project TEXT NOT NULL,
    concerned_department_id TEXT REFERENCES departments(id),
    concerned_staff TEXT,
    matter_type TEXT NOT NULL,
    subject TEXT NOT NULL,
    facts TEXT NOT NULL,
    request TEXT NOT NULL,
    review_or_lawsuit BOOLEAN NOT NULL,
    confidential BOOLEAN NOT NULL,
    contact_consent BOOLEAN,
    filed_by TEXT REFERENCES users(id),
    access_code_hash TEXT NOT NULL,
    department_id TEXT REFERENCES departments(id),
    received_at TIMESTAMP NOT NULL,
    -- Due instant of the open reply clock (NULL when none runs): for ordering and filters.
    due_at TIMESTAMP,
    overdue BOOLEAN NOT NULL DEFAULT 0,
    reply_text TEXT,
    reply_outcome TEXT,
    replied_at TIMESTAMP,
    rating TEXT,
    rating_comment TEXT,
    rated_at TIMESTAMP,
    closed_at TIMESTAMP,
    idempotency_key_hash TEXT UNIQUE,
    idempotency_body_hash TEXT,
    -- The access code sealed with a key derived from the Idempotency-Key (which only the
    -- client knows), so a retried filing can show the code again; purged after a day.
    idempotency_sealed_code TEXT,
    version INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (tracking_year, tracking_seq)
);
CREATE INDEX complaints_status_due ON complaints (status, due_at);
CREATE INDEX complaints_department_due ON complaints (department_id, due_at);
CREATE INDEX complaints_received ON complaints (received_at);

CREATE TABLE complaint_clocks (
    id TEXT PRIMARY KEY NOT NULL,
    complaint_id TEXT NOT NULL REFERENCES complaints(id),
    kind TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    started_at TIMESTAMP NOT NULL,
    working_days INTEGER NOT NULL,
    extension_days INTEGER NOT NULL,
    due_at TIMESTAMP NOT NULL,
    due_date DATE NOT NULL,
    provisional BOOLEAN NOT NULL,
    stopped_at TIMESTAMP,
    stop_reason TEXT,
    breached_at TIMESTAMP,
    UNIQUE (complaint_id, kind, ordinal)
);
CREATE INDEX complaint_clocks_open_due ON complaint_clocks (stopped_at, due_at);

CREATE TABLE clock_pauses (
    id TEXT PRIMARY KEY NOT NULL,
    clock_id TEXT NOT NULL REFERENCES complaint_clocks(id),
    paused_at TIMESTAMP NOT NULL,
    resumed_at TIMESTAMP,
    question TEXT NOT NULL,
    answer TEXT
);
CREATE INDEX clock_pauses_clock ON clock_pauses (clock_id);

CREATE TABLE complaint_assignments (
    id TEXT PRIMARY KEY NOT NULL,
    complaint_id TEXT NOT NULL REFERENCES complaints(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    assigned_at TIMESTAMP NOT NULL,
    assigned_by TEXT,
    released_at TIMESTAMP,
    release_reason TEXT,
    working_days_held INTEGER
);
CREATE INDEX complaint_assignments_complaint ON complaint_assignments (complaint_id);

CREATE TABLE extension_requests (
    id TEXT PRIMARY KEY NOT NULL,
    complaint_id TEXT NOT NULL REFERENCES complaints(id),
    clock_id TEXT NOT NULL REFERENCES complaint_clocks(id),
    department_id TEXT NOT NULL REFERENCES departments(id),
    requested_by TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    days_requested INTEGER NOT NULL,
    reason TEXT NOT NULL,
    decision TEXT,
    days_approved INTEGER,
    decided_by TEXT,
    decided_at TIMESTAMP,
    decision_reason TEXT
);
CREATE INDEX extension_requests_complaint ON extension_requests (complaint_id);

-- Append-only; hash = SHA-256(prev_hash || canonical event), per complaint.
CREATE TABLE complaint_events (
    id TEXT PRIMARY KEY NOT NULL,
    complaint_id TEXT NOT NULL REFERENCES complaints(id),
    seq INTEGER NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    detail TEXT NOT NULL,
    investor_visible BOOLEAN NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (complaint_id, seq)
);
