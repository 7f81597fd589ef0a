DROP TABLE calendar_years;
DROP TABLE admin_events;
DROP TABLE users;
DROP TABLE departments;
