-- The same pipeline as ksqlDB statements, as written in the talks.

CREATE STREAM poor_ratings AS
    SELECT * FROM ratings WHERE stars < 3 EMIT CHANGES;

CREATE STREAM ratings_with_customer_data AS
    SELECT r.rating_id, r.rating_time, r.stars, r.channel, r.message,
           c.id AS customer_id, CONCAT(c.first_name, ' ', c.last_name) AS full_name,
           c.club_status, c.email
    FROM ratings r INNER JOIN customers c ON r.user_id = c.id
    EMIT CHANGES;

CREATE STREAM unhappy_platinum_customers AS
    SELECT full_name, club_status, email, stars, message, rating_time
    FROM ratings_with_customer_data
    WHERE stars < 3 AND club_status = 'platinum'
    EMIT CHANGES;

CREATE TABLE ratings_by_club_status_1min AS
    SELECT WINDOWSTART AS window_start, WINDOWEND AS window_end, club_status,
           COUNT(*) AS rating_count
    FROM ratings_with_customer_data
    WINDOW TUMBLING (SIZE 1 MINUTES)
    GROUP BY club_status
    EMIT CHANGES;

CREATE TABLE fraud_alerts AS
    SELECT card_number, WINDOWSTART AS window_start, WINDOWEND AS window_end,
           COUNT(*) AS attempts
    FROM authorizations
    WINDOW TUMBLING (SIZE 5 SECONDS)
    GROUP BY card_number
    HAVING COUNT(*) > 3
    EMIT CHANGES;

CREATE STREAM invalid_users AS
    SELECT ts, host, message FROM syslog WHERE message LIKE '%Invalid user%' EMIT CHANGES;
