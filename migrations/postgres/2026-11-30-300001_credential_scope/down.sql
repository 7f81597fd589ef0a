-- Sealed scopes cannot be opened without their codes: those credentials come back with an
-- empty category and department list.
ALTER TABLE ballot_credentials ADD COLUMN category TEXT NOT NULL DEFAULT '';
ALTER TABLE ballot_credentials ADD COLUMN departments TEXT NOT NULL DEFAULT '[]';
UPDATE ballot_credentials SET category = (substr(scope, 4)::json ->> 'category'), departments = (substr(scope, 4)::json -> 'departments')::text WHERE scope LIKE 'v0:%';
ALTER TABLE ballot_credentials ALTER COLUMN category DROP DEFAULT, ALTER COLUMN departments DROP DEFAULT;
ALTER TABLE ballot_credentials DROP COLUMN scope;
