-- Identity, login, declarations, staff and audit: the PostgreSQL twin of the SQLite
-- migration, with the same table, column and index names. Times are TIMESTAMPTZ (microsecond
-- precision, UTC instants); days are DATE in local (Asia/Shanghai) time.
--
-- The backend maps unique violations by constraint name, so the names of `persons_id_index`,
-- `persons_phone_index`, `staff_token_hash` and `staff_pkey` are part of its contract.

-- The identity table: the only place that links a subject id to a real person. Clear values
-- are sealed by the vault; *_index columns are keyed blind indexes.
CREATE TABLE persons (
    subject_id          TEXT PRIMARY KEY,
    id_index            BYTEA NOT NULL,
    id_number_sealed    TEXT NOT NULL,
    name_sealed         TEXT NOT NULL,
    masked_name         TEXT NOT NULL,
    phone_index         BYTEA,
    phone_sealed        TEXT,
    household_region    TEXT NOT NULL,
    current_region      TEXT,
    guardian_subject_id TEXT REFERENCES persons (subject_id),
    guardian_relation   TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    CHECK ((guardian_subject_id IS NULL) = (guardian_relation IS NULL))
);
-- One person, one code.
CREATE UNIQUE INDEX persons_id_index ON persons (id_index);
-- One phone, one registered person (dependents have no phone; NULLs are distinct).
CREATE UNIQUE INDEX persons_phone_index ON persons (phone_index);
CREATE INDEX persons_guardian ON persons (guardian_subject_id);
CREATE INDEX persons_household_region ON persons (household_region);
CREATE INDEX persons_current_region ON persons (current_region);

CREATE TABLE otp_states (
    phone_index  BYTEA PRIMARY KEY,
    code_hash    BYTEA,
    expires_at   TIMESTAMPTZ NOT NULL,
    sent_at      TIMESTAMPTZ NOT NULL,
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    locked_until TIMESTAMPTZ
);

CREATE TABLE sessions (
    token_hash  BYTEA PRIMARY KEY,
    phone_index BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
-- Expired sessions are swept by expiry on every login.
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE declarations (
    id                          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject_id                  TEXT NOT NULL REFERENCES persons (subject_id),
    day                         DATE NOT NULL,
    temperature_tenths          SMALLINT NOT NULL,
    symptoms                    TEXT NOT NULL,
    contact_with_suspected_case BOOLEAN NOT NULL,
    current_region              TEXT NOT NULL,
    declared_by                 TEXT NOT NULL,
    declared_at                 TIMESTAMPTZ NOT NULL,
    superseded_at               TIMESTAMPTZ
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
    token_hash   BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
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

-- `seq` comes from an identity sequence; writers take an advisory lock before appending (see
-- `insert_audit`) so that sequence order is also commit order.
CREATE TABLE audit_log (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    actor_role TEXT,
    action     TEXT NOT NULL,
    subject_id TEXT,
    purpose    TEXT,
    detail     JSONB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, seq);
