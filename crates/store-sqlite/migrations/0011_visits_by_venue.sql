-- Visits laid out for tracing (issue 5). Tracing asks two questions: who was at this venue
-- then, and where was this person then. Until now visits were a rowid table in arrival
-- order with indexes pointing into it, so a venue window read one table row per visit,
-- each on its own page (at 10 M visits: ~16 scattered rows per window).
--
-- Now the table is clustered by venue and time (WITHOUT ROWID, primary key
-- (venue_id, entered_at, visit_key)): a venue window is one run of adjacent rows, usually
-- on one or two pages. The person index carries left_at and, like every index of a
-- WITHOUT ROWID table, the primary key (venue_id, visit_key), so it answers tracing's
-- person question on its own. The unique (visit_key, entered_at) pair stays: duplicates are
-- decided as before, and as on PostgreSQL.
--
-- Scans still write three B-trees per visit (table, key index, person index), as before
-- (table, key, venue and person indexes: four); a scan lands on its venue's latest page.
-- Existing visits are carried over in the new table's order.

CREATE TABLE visits_by_venue (
    visit_key  TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    entered_at INTEGER NOT NULL,          -- microseconds UTC
    left_at    INTEGER NOT NULL,          -- exit scan, else entered_at + the category's dwell
    closed     INTEGER NOT NULL DEFAULT 0, -- 1: left_at comes from an exit scan
    source     TEXT NOT NULL,             -- scan | checkin | import
    PRIMARY KEY (venue_id, entered_at, visit_key)
) WITHOUT ROWID;

INSERT INTO visits_by_venue (visit_key, subject_id, venue_id, entered_at, left_at, closed, source)
SELECT visit_key, subject_id, venue_id, entered_at, left_at, closed, source FROM visits
ORDER BY venue_id, entered_at, visit_key;

DROP TABLE visits;
ALTER TABLE visits_by_venue RENAME TO visits;

-- Named indexes (not table constraints), so a bulk load into an empty table can build them
-- after the rows, in one sort each (`visits_load` in visits.rs).
CREATE UNIQUE INDEX visits_key ON visits (visit_key, entered_at);
CREATE INDEX visits_subject ON visits (subject_id, entered_at, left_at);
