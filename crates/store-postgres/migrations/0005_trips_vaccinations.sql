-- Train and flight manifests (for tracing shared coaches and rows, R7) and vaccinations (R5),
-- keyed by the ID number's blind index: railways, airlines and clinics know people by it.

CREATE TABLE trips (
    record_id TEXT PRIMARY KEY,
    id_index  BYTEA NOT NULL,
    carrier   TEXT NOT NULL,
    number    TEXT NOT NULL,
    date      DATE NOT NULL,
    coach     TEXT,
    seat_row  TEXT NOT NULL,
    seat      TEXT NOT NULL
);
CREATE INDEX trips_person ON trips (id_index, date);
-- Tracing's question: who else was on this train or flight, in this coach?
CREATE INDEX trips_vehicle ON trips (carrier, number, date, coach);

CREATE TABLE vaccinations (
    record_id TEXT PRIMARY KEY,
    id_index  BYTEA NOT NULL,
    date      DATE NOT NULL,
    dose      INTEGER NOT NULL,
    product   TEXT NOT NULL
);
CREATE INDEX vaccinations_person ON vaccinations (id_index, date);
