-- Rate limits every instance counts against (GCRA): one row per limit and client, holding the
-- theoretical arrival time. The client (an address or an account's email) is stored only as a
-- keyed hash. A row whose tat has passed is a full bucket again and may be deleted.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    tat TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (bucket, key_hash)
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
