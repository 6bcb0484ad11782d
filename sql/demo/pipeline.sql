-- The demo pipeline in Postgres/Materialize SQL.

-- Ratings with fewer than three stars.
CREATE MATERIALIZED VIEW poor_ratings AS
    SELECT * FROM ratings WHERE stars < 3;

-- Each rating with the customer who gave it, as the customer is now: an update or delete
-- of a customer updates the ratings joined to it.
CREATE MATERIALIZED VIEW ratings_with_customer_data AS
    SELECT r.rating_id, r.rating_time, r.stars, r.channel, r.message,
           c.id AS customer_id, c.first_name || ' ' || c.last_name AS full_name,
           c.club_status, c.email
    FROM ratings r JOIN customers c ON r.user_id = c.id;

-- Poor ratings from platinum customers: the people to call back.
CREATE MATERIALIZED VIEW unhappy_platinum_customers AS
    SELECT full_name, club_status, email, stars, message, rating_time
    FROM ratings_with_customer_data
    WHERE stars < 3 AND club_status = 'platinum';

-- Ratings per club status per minute of rating time.
CREATE MATERIALIZED VIEW ratings_by_club_status_1min AS
    SELECT window_start, window_end, club_status, count(*) AS rating_count
    FROM TUMBLE(ratings_with_customer_data, DESCRIPTOR(rating_time), INTERVAL '1 minute')
    GROUP BY window_start, window_end, club_status;

-- Cards tried more than three times within five seconds.
CREATE MATERIALIZED VIEW fraud_alerts AS
    SELECT card_number, window_start, window_end, count(*) AS attempts
    FROM TUMBLE(authorizations, DESCRIPTOR(auth_time), INTERVAL '5 seconds')
    GROUP BY card_number, window_start, window_end
    HAVING count(*) > 3;

-- sshd probing for accounts.
CREATE MATERIALIZED VIEW invalid_users AS
    SELECT ts, host, message FROM syslog WHERE message LIKE '%Invalid user%';
