DROP INDEX outbox_clock;
ALTER TABLE outbox DROP COLUMN cancel_reason;
ALTER TABLE outbox DROP COLUMN department_id;
ALTER TABLE outbox DROP COLUMN clock_due_at;
ALTER TABLE outbox DROP COLUMN clock_id;
