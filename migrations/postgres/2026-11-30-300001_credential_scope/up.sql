-- A credential keeps only what casting needs: its hash, its round, whether it is spent, and its
-- scope (the voter category and the departments it may rate) sealed under a key derived from the
-- code itself, so that nothing stored ties a code to a roll entry (see src/ballots/scope.rs).
-- Credentials issued before this change keep their scope in the clear ("v0:") until their round
-- closes.
ALTER TABLE ballot_credentials ADD COLUMN scope TEXT;
UPDATE ballot_credentials SET scope = 'v0:' || json_build_object('category', category, 'departments', departments::json)::text;
ALTER TABLE ballot_credentials ALTER COLUMN scope SET NOT NULL;
ALTER TABLE ballot_credentials DROP COLUMN category, DROP COLUMN departments;
