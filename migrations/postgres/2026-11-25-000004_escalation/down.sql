DROP TABLE outbox;
DROP TABLE clock_escalations;
DROP INDEX complaint_clocks_next_step;
ALTER TABLE complaint_clocks DROP COLUMN next_step_at;
ALTER TABLE complaint_clocks DROP COLUMN next_step;
