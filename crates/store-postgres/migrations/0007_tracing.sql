-- Contact tracing (R7): cases reported by health officers, and the exposures tracing found.
-- Exposures are keyed by the subject id (a pseudonym), like visits; their record id is derived
-- from the case, the person and the kind, so tracing a case again updates instead of adding.

CREATE TABLE trace_cases (
    case_id     TEXT PRIMARY KEY,
    subject_id  TEXT NOT NULL REFERENCES persons (subject_id),
    status      TEXT NOT NULL,
    onset_date  DATE,
    sampled_at  TIMESTAMPTZ,
    isolated_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX trace_cases_subject ON trace_cases (subject_id);

CREATE TABLE exposures (
    record_id  TEXT PRIMARY KEY,
    subject_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    case_id    TEXT NOT NULL,
    via        TEXT,
    evidence   JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX exposures_subject ON exposures (subject_id, at);
CREATE INDEX exposures_case ON exposures (case_id);
