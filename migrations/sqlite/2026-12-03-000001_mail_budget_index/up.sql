-- The budget's count (an address's emails sent in the last day) names the address, `withheld`
-- and a time range. With (address_key, created_at) and (withheld, created_at) to choose from,
-- SQLite took the second and read every email sent that day for each filing. An index with
-- both equalities first is the one any planner takes: it reads only the address's own rows.
CREATE INDEX investor_mail_log_address_sent ON investor_mail_log (address_key, withheld, created_at);
DROP INDEX investor_mail_log_address;
