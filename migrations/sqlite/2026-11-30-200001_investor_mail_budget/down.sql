DROP TABLE investor_mail_log;
