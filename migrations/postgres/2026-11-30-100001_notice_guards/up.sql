-- A ladder notice remembers the facts it speaks of: the clock, the due instant and the holding
-- department as they were when it was queued. The delivery worker and every complaint change
-- compare them with the facts of the moment; a notice whose facts no longer hold is cancelled,
-- never sent, and keeps the reason.
ALTER TABLE outbox ADD COLUMN clock_id TEXT;
ALTER TABLE outbox ADD COLUMN clock_due_at TIMESTAMP;
ALTER TABLE outbox ADD COLUMN department_id TEXT;
ALTER TABLE outbox ADD COLUMN cancel_reason TEXT;
CREATE INDEX outbox_clock ON outbox (clock_id);
