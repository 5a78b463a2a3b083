-- People whose color must be re-evaluated, asked for by whoever changed their facts where no
-- server runs (`healthcode import`, `healthcode trace`) and taken by the servers' review
-- scheduler. In the database, so a change made by the command line recolors people in a
-- running server, and several PostgreSQL nodes share the work.
CREATE TABLE review_queue (
    subject_id   TEXT PRIMARY KEY REFERENCES persons (subject_id),
    requested_at INTEGER NOT NULL
);
CREATE INDEX review_queue_order ON review_queue (requested_at);
