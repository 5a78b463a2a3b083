-- Migration 11 clusters SQLite's visits by venue and time for tracing (see that backend's
-- 0011). PostgreSQL's visits are already partitioned by day with (venue_id, entered_at) and
-- (subject_id, entered_at) indexes per partition, and its tracing reads are set-based, so
-- nothing changes here: this keeps both backends' version numbers in step.
SELECT 1;
