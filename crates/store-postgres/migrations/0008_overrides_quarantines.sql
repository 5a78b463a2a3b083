-- Manual color changes (R12, R13): proposed by one officer, in force only after a second,
-- different officer approves, and always with an expiry. Quarantines ordered by officers.

CREATE TABLE overrides (
    override_id   TEXT PRIMARY KEY,
    subject_id    TEXT NOT NULL REFERENCES persons (subject_id),
    color         TEXT NOT NULL CHECK (color IN ('green', 'yellow', 'red')),
    legal_basis   TEXT NOT NULL,
    reason_sealed TEXT NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'approved')),
    proposed_by   TEXT NOT NULL,
    proposed_at   TIMESTAMPTZ NOT NULL,
    approved_by   TEXT,
    approved_at   TIMESTAMPTZ,
    CHECK (expires_at > proposed_at),
    -- The two-person rule, also in the schema: no officer approves their own override.
    CHECK (approved_by IS NULL OR approved_by <> proposed_by),
    CHECK ((status = 'approved') = (approved_by IS NOT NULL AND approved_at IS NOT NULL))
);
CREATE INDEX overrides_subject ON overrides (subject_id, status);

CREATE TABLE quarantines (
    quarantine_id TEXT PRIMARY KEY,
    subject_id    TEXT NOT NULL REFERENCES persons (subject_id),
    kind          TEXT NOT NULL CHECK (kind IN ('centralized', 'home')),
    start_at      TIMESTAMPTZ NOT NULL,
    planned_end   TIMESTAMPTZ,
    ended_at      TIMESTAMPTZ,
    created_by    TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    CHECK (planned_end IS NULL OR planned_end > start_at),
    CHECK (ended_at IS NULL OR ended_at >= start_at)
);
CREATE INDEX quarantines_subject ON quarantines (subject_id);
