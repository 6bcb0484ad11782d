-- The demo's inputs from Runnel's built-in generators: no broker needed.
-- ratings (a stream), customers (a table kept in sync from a change feed: inserts, updates
-- and deletes), card authorizations and syslog lines. Each RATE is in events per second.
CREATE SOURCE demo FROM LOAD GENERATOR RATINGS (RATE 20, CUSTOMERS 50) FOR ALL TABLES;
CREATE SOURCE authorizations FROM LOAD GENERATOR AUTHORIZATIONS (RATE 20, CARDS 200);
CREATE SOURCE syslog FROM LOAD GENERATOR SYSLOG (RATE 10);
