DROP INDEX complaints_department_queue;
DROP INDEX complaints_queue;
ALTER TABLE complaints DROP COLUMN queue_group;
CREATE INDEX complaints_department_queue ON complaints (department_id, (due_at IS NULL), due_at, id);
CREATE INDEX complaints_queue ON complaints ((due_at IS NULL), due_at, id);
