-- The demo's inputs from Kafka topics, as `runnel produce` writes them: ratings,
-- authorizations and syslog lines as JSON, customers as Debezium change events.
-- (`demo/run --kafka` starts the broker and the producer, and names the broker here.)
CREATE STREAM ratings (rating_id BIGINT, user_id INT, stars INT, route_id INT,
                       rating_time TIMESTAMP, channel VARCHAR, message VARCHAR)
  WITH (KAFKA_TOPIC = 'ratings', VALUE_FORMAT = 'JSON', TIMESTAMP = 'rating_time');
CREATE SOURCE customers (id INT NOT NULL, first_name TEXT, last_name TEXT, email TEXT,
                         gender TEXT, club_status TEXT, comments TEXT, PRIMARY KEY (id))
  FROM KAFKA (TOPIC 'customers') FORMAT JSON ENVELOPE DEBEZIUM;
CREATE STREAM authorizations (auth_id BIGINT, card_number VARCHAR, merchant VARCHAR,
                              amount DECIMAL, success BOOLEAN, auth_time TIMESTAMP)
  WITH (KAFKA_TOPIC = 'authorizations', VALUE_FORMAT = 'JSON', TIMESTAMP = 'auth_time');
CREATE STREAM syslog (ts TIMESTAMP, host VARCHAR, app VARCHAR, pid INT, severity VARCHAR,
                      message VARCHAR)
  WITH (KAFKA_TOPIC = 'syslog', VALUE_FORMAT = 'JSON', TIMESTAMP = 'ts');
