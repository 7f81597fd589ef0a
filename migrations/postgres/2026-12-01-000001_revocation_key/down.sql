ALTER TABLE ballot_credentials DROP COLUMN roll_tag;
ALTER TABLE ballot_rounds DROP COLUMN revocation_recipient;
