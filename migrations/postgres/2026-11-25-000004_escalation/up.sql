-- The escalation ladder's schedule on each clock, the steps already taken, and the outbox.

-- The next rung of the ladder and when it falls due (NULL: nothing left, or paused). The
-- sweeper reads this index only, never the whole table.
ALTER TABLE complaint_clocks ADD COLUMN next_step TEXT;
ALTER TABLE complaint_clocks ADD COLUMN next_step_at TIMESTAMP;
CREATE INDEX complaint_clocks_next_step ON complaint_clocks (next_step_at);

-- One row per rung taken; the primary key makes a rung impossible to take twice.
CREATE TABLE clock_escalations (
    clock_id TEXT NOT NULL REFERENCES complaint_clocks(id),
    step TEXT NOT NULL,
    taken_at TIMESTAMP NOT NULL,
    PRIMARY KEY (clock_id, step)
);

-- Emails to send, written in the transaction of the change that causes them.
CREATE TABLE outbox (
    id TEXT PRIMARY KEY NOT NULL,
    -- (complaint, clock, step, recipient) for ladder notices; unique, so never queued twice.
    dedupe_key TEXT NOT NULL UNIQUE,
    complaint_id TEXT,
    notice TEXT NOT NULL,
    language TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- Purged after delivery.
    text_body TEXT,
    html_body TEXT,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error TEXT,
    lease_owner TEXT,
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    message_id TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_complaint ON outbox (complaint_id);
