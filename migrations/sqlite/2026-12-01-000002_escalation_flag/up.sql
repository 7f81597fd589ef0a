-- Whether a taken rung counts as an escalation in the yearly assessment: recorded when the rung
-- is taken, from the ladder's `counts_as_escalation`, so renaming a step in the configuration
-- changes neither past records nor the deduction. Rungs taken before this change: the one rung
-- the shipped ladder has always counted.
ALTER TABLE clock_escalations ADD COLUMN counts_as_escalation BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE clock_escalations SET counts_as_escalation = TRUE WHERE step = 'overdue_escalated';
