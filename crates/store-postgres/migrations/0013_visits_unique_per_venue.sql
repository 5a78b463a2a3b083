-- A visit is unique by its venue, key and entry time, as on SQLite (its 0015, where the
-- separate key index went so that a scan writes one B-tree fewer). A replay names the same
-- venue (a scan's device is bound to one, a check-in's key names it), so replays are
-- duplicates as before; a source that gives one record id two venues now keeps both visits.
ALTER TABLE visits DROP CONSTRAINT visits_key;
ALTER TABLE visits ADD CONSTRAINT visits_key UNIQUE (venue_id, visit_key, entered_at);
