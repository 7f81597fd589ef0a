ALTER TABLE clock_escalations DROP COLUMN counts_as_escalation;
