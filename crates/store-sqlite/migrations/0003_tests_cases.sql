-- Lab tests and case statuses (R5), keyed by the ID number's blind index: labs and health
-- officials know people by their ID number.

CREATE TABLE lab_tests (
    record_id  TEXT PRIMARY KEY,
    id_index   BLOB NOT NULL,
    sampled_at INTEGER NOT NULL,
    result     TEXT NOT NULL
);
CREATE INDEX lab_tests_person ON lab_tests (id_index, sampled_at);

CREATE TABLE case_statuses (
    record_id TEXT PRIMARY KEY,
    id_index  BLOB NOT NULL,
    status    TEXT NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX case_statuses_person ON case_statuses (id_index, at);
