-- Identity, login, declarations, staff and audit. Times are INTEGER microseconds since the
-- Unix epoch (UTC); days are TEXT 'YYYY-MM-DD' in local (Asia/Shanghai) time.

-- The identity table: the only place that links a subject id to a real person. Clear values
-- are sealed by the vault; *_index columns are keyed blind indexes.
CREATE TABLE persons (
    subject_id          TEXT PRIMARY KEY,
    id_index            BLOB NOT NULL,
    id_number_sealed    TEXT NOT NULL,
    name_sealed         TEXT NOT NULL,
    masked_name         TEXT NOT NULL,
    phone_index         BLOB,
    phone_sealed        TEXT,
    household_region    TEXT NOT NULL,
    current_region      TEXT,
    guardian_subject_id TEXT REFERENCES persons (subject_id),
    guardian_relation   TEXT,
    created_at          INTEGER NOT NULL,
    CHECK ((guardian_subject_id IS NULL) = (guardian_relation IS NULL))
);
-- One person, one code.
CREATE UNIQUE INDEX persons_id_index ON persons (id_index);
-- One phone, one registered person (dependents have no phone).
CREATE UNIQUE INDEX persons_phone_index ON persons (phone_index);
CREATE INDEX persons_guardian ON persons (guardian_subject_id);
CREATE INDEX persons_household_region ON persons (household_region);
CREATE INDEX persons_current_region ON persons (current_region);

CREATE TABLE otp_states (
    phone_index  BLOB PRIMARY KEY,
    code_hash    BLOB,
    expires_at   INTEGER NOT NULL,
    sent_at      INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    locked_until INTEGER
);

CREATE TABLE sessions (
    token_hash  BLOB PRIMARY KEY,
    phone_index BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE declarations (
    id                          INTEGER PRIMARY KEY AUTOINCREMENT,
    subject_id                  TEXT NOT NULL REFERENCES persons (subject_id),
    day                         TEXT NOT NULL,
    temperature_tenths          INTEGER NOT NULL,
    symptoms                    TEXT NOT NULL,
    contact_with_suspected_case INTEGER NOT NULL,
    current_region              TEXT NOT NULL,
    declared_by                 TEXT NOT NULL,
    declared_at                 INTEGER NOT NULL,
    superseded_at               INTEGER
);
-- At most one declaration in force per person and day; replaced ones stay as history.
CREATE UNIQUE INDEX declarations_in_force ON declarations (subject_id, day) WHERE superseded_at IS NULL;
CREATE INDEX declarations_subject ON declarations (subject_id, id);

CREATE TABLE staff (
    id           TEXT PRIMARY KEY,
    role         TEXT NOT NULL,
    name         TEXT NOT NULL,
    venue_id     TEXT,
    import_kinds TEXT NOT NULL,
    token_hash   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE UNIQUE INDEX staff_token_hash ON staff (token_hash);

-- An officer's regions; `pattern` is the LIKE pattern of everything under the region.
CREATE TABLE staff_regions (
    staff_id TEXT NOT NULL REFERENCES staff (id),
    region   TEXT NOT NULL,
    pattern  TEXT NOT NULL,
    PRIMARY KEY (staff_id, region)
);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_role TEXT,
    action     TEXT NOT NULL,
    subject_id TEXT,
    purpose    TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);
