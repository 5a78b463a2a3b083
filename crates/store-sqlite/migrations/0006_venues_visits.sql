-- Venues, visits and denied scan attempts (R6). Visits carry the subject id (a pseudonym)
-- only: no name, phone or ID number. Appended by the server's group-commit writer.

CREATE TABLE venues (
    venue_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    address    TEXT NOT NULL,
    region     TEXT NOT NULL,
    category   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE visits (
    -- 'scan:<device id>:<idempotency key>', 'checkin:<subject>:<venue>:<at micros>', 'import:<record id>'
    visit_key  TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    entered_at INTEGER NOT NULL,          -- microseconds UTC
    left_at    INTEGER NOT NULL,          -- exit scan, else entered_at + the category's dwell
    closed     INTEGER NOT NULL DEFAULT 0, -- 1: left_at comes from an exit scan
    source     TEXT NOT NULL,             -- scan | checkin | import
    -- The same pair as PostgreSQL's (its partition key must be in every unique key), so both
    -- backends decide duplicates alike.
    UNIQUE (visit_key, entered_at)
);
-- Tracing's two questions: who was at this venue then, and where was this person then.
CREATE INDEX visits_venue ON visits (venue_id, entered_at);
CREATE INDEX visits_subject ON visits (subject_id, entered_at);

-- Scans denied before a visit could be recorded (forged, expired, unknown issuer, color not
-- admitted): venue, device, time and reason only, no person.
CREATE TABLE scan_attempts (
    id        INTEGER PRIMARY KEY,
    attempt_key TEXT UNIQUE,  -- 'scan:<device id>:<idempotency key>': a replay is recorded once
    venue_id  TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at        INTEGER NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX scan_attempts_venue ON scan_attempts (venue_id, at);
