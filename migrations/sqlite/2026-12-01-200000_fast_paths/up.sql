-- The complaint lists are ordered by (no running clock last, due instant, id) and read a page
-- at a time: with these the database reads the page from the index in order instead of sorting
-- every matching complaint (a department's list, and the office's list of all).
-- (PostgreSQL's migration also makes its rate-limit table unlogged; SQLite counts in memory.)
CREATE INDEX complaints_department_queue ON complaints (department_id, due_at IS NULL, due_at, id);
CREATE INDEX complaints_queue ON complaints (due_at IS NULL, due_at, id);
