CREATE INDEX investor_mail_log_address ON investor_mail_log (address_key, created_at);
DROP INDEX investor_mail_log_address_sent;
