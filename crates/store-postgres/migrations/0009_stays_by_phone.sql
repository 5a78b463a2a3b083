-- Migration 9 reorganises SQLite's telecom stays for bulk imports (a phone index the import
-- fills in key order; see that backend's 0009). PostgreSQL's schema needs no change: this
-- keeps both backends' version numbers in step.
SELECT 1;
