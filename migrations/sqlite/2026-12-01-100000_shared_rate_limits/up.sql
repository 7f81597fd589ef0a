-- SQLite serves one instance: its rate limits are counted in memory. The table exists so that
-- both backends have the same schema.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    tat TIMESTAMP NOT NULL,
    PRIMARY KEY (bucket, key_hash)
);
