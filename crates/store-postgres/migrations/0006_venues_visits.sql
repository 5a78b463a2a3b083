-- Venues, visits and denied scan attempts (R6). Visits carry the subject id (a pseudonym)
-- only: no name, phone or ID number. Appended by the server's group-commit writer.

CREATE TABLE venues (
    venue_id   TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    address    TEXT NOT NULL,
    region     TEXT NOT NULL,
    category   TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL
);

-- Partitioned by local day (Asia/Shanghai) on entered_at: retention drops whole partitions
-- instead of deleting rows. The store creates each day's partition before writing into it
-- (`visits.rs`); there is no default partition, so a missing one is an error, not a row in
-- the wrong place.
CREATE TABLE visits (
    -- 'scan:<device id>:<idempotency key>', 'checkin:<subject>:<venue>:<at micros>', 'import:<record id>'
    visit_key  TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    venue_id   TEXT NOT NULL,
    entered_at TIMESTAMPTZ NOT NULL,
    left_at    TIMESTAMPTZ NOT NULL,     -- exit scan, else entered_at + the category's dwell
    closed     BOOLEAN NOT NULL DEFAULT FALSE,
    source     TEXT NOT NULL,            -- scan | checkin | import
    CONSTRAINT visits_key UNIQUE (visit_key, entered_at)
) PARTITION BY RANGE (entered_at);
CREATE INDEX visits_venue ON visits (venue_id, entered_at);
CREATE INDEX visits_subject ON visits (subject_id, entered_at);

-- Scans denied before a visit could be recorded (forged, expired, unknown issuer, color not
-- admitted): venue, device, time and reason only, no person.
CREATE TABLE scan_attempts (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attempt_key TEXT UNIQUE,  -- 'scan:<device id>:<idempotency key>': a replay is recorded once
    venue_id  TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at        TIMESTAMPTZ NOT NULL,
    reason    TEXT NOT NULL
);
CREATE INDEX scan_attempts_venue ON scan_attempts (venue_id, at);
