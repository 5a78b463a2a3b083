-- The last decision per person and the history of color changes (R9, R12).

CREATE TABLE decisions (
    subject_id       TEXT PRIMARY KEY REFERENCES persons (subject_id),
    color            TEXT NOT NULL,
    since            INTEGER NOT NULL,
    rule_set_version TEXT NOT NULL,
    next_review_at   INTEGER,
    evaluated_at     INTEGER NOT NULL,
    record           TEXT NOT NULL
);
-- The scheduler's question: who is due for review?
CREATE INDEX decisions_next_review ON decisions (next_review_at) WHERE next_review_at IS NOT NULL;

CREATE TABLE color_changes (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id       TEXT NOT NULL REFERENCES persons (subject_id),
    at               INTEGER NOT NULL,
    from_color       TEXT,
    to_color         TEXT NOT NULL,
    rule_set_version TEXT NOT NULL
);
CREATE INDEX color_changes_subject ON color_changes (subject_id, id);
