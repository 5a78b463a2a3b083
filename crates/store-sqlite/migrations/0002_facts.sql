-- Facts from data partners (R5). Keyed by the blind index the source really has (a phone for
-- telecom data), so facts about people who register later still count.

CREATE TABLE telecom_stays (
    record_id   TEXT PRIMARY KEY,
    phone_index BLOB NOT NULL,
    region      TEXT NOT NULL,
    start_at    INTEGER NOT NULL,
    end_at      INTEGER NOT NULL,
    CHECK (end_at >= start_at)
);
CREATE INDEX telecom_stays_phone ON telecom_stays (phone_index, end_at);
CREATE INDEX telecom_stays_region ON telecom_stays (region, end_at);

CREATE TABLE region_risk (
    record_id      TEXT PRIMARY KEY,
    region         TEXT NOT NULL,
    level          TEXT NOT NULL,
    effective_from INTEGER NOT NULL,
    effective_to   INTEGER,
    CHECK (effective_to IS NULL OR effective_to > effective_from)
);
CREATE INDEX region_risk_region ON region_risk (region, effective_from);
