DROP INDEX complaints_queue;
DROP INDEX complaints_department_queue;
