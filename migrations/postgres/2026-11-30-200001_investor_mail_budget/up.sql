-- Every investor email queued, by normalised recipient address: the per-address daily budget
-- counts these rows (across complaints and instances). A row with withheld = true is an email
-- the budget did not send; the administrators see it with its reason.
CREATE TABLE investor_mail_log (
    id TEXT PRIMARY KEY NOT NULL,
    address_key TEXT NOT NULL,
    complaint_id TEXT NOT NULL,
    notice TEXT NOT NULL,
    withheld BOOLEAN NOT NULL,
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX investor_mail_log_address ON investor_mail_log (address_key, created_at);
CREATE INDEX investor_mail_log_withheld ON investor_mail_log (withheld, created_at);
