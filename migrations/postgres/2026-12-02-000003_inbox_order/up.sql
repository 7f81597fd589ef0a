-- The inbox order: running clocks first (overdue, then by time left), then cases paused while
-- the investor is asked for information, then cases with no running clock; among equal
-- deadlines the oldest complaint first. The group is derived from the row, never written, so no
-- operation can forget it; the indexes read a page of the list in that order.
ALTER TABLE complaints ADD COLUMN queue_group INTEGER NOT NULL GENERATED ALWAYS AS
  (CASE WHEN due_at IS NULL THEN 2 WHEN status = 'awaiting_investor' THEN 1 ELSE 0 END) STORED;
DROP INDEX complaints_department_queue;
DROP INDEX complaints_queue;
CREATE INDEX complaints_department_queue ON complaints (department_id, queue_group, due_at, received_at, id);
CREATE INDEX complaints_queue ON complaints (queue_group, due_at, received_at, id);
