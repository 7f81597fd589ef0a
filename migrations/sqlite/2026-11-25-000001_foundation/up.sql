-- Departments, staff accounts, the admin audit log and admin-loaded calendar years.
-- Instants are UTC, truncated to microseconds; ids are UUID text.
CREATE TABLE departments (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    kind TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    head_email TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    department_id TEXT REFERENCES departments(id),
    active BOOLEAN NOT NULL DEFAULT 1,
    must_change_password BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE admin_events (
    id TEXT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor_id TEXT,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX admin_events_at ON admin_events (at);

CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY NOT NULL,
    source_toml TEXT NOT NULL,
    version TEXT NOT NULL,
    loaded_by TEXT,
    loaded_at TIMESTAMP NOT NULL
);
