-- Rate-limit counters are checked on every public request; written with WAL, each check waited
-- for a disk flush. Unlogged, a crash empties the table (every client starts with a full
-- budget again), which is all a lost counter costs.
ALTER TABLE rate_limits SET UNLOGGED;

-- The complaint lists are ordered by (no running clock last, due instant, id) and read a page
-- at a time: with these the database reads the page from the index in order instead of sorting
-- every matching complaint (a department's list, and the office's list of all).
CREATE INDEX complaints_department_queue ON complaints (department_id, (due_at IS NULL), due_at, id);
CREATE INDEX complaints_queue ON complaints ((due_at IS NULL), due_at, id);
