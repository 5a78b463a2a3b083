-- Retention of declarations (DESIGN §8): the retention job deletes the declarations of days
-- before a cutoff, which without this index would read the whole table.
CREATE INDEX declarations_day ON declarations (day);
