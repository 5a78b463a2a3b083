-- Rule sets kept by version (DESIGN §6, issue 4): a stored decision keeps the rule ids, the
-- evidence and the rule-set version, not the texts of its explanation, which the rule set of
-- that version renders again exactly. So every version a decision names is kept here, with
-- the text whose SHA-256 it is, from before the first decision that names it.
CREATE TABLE rule_sets (
    version TEXT PRIMARY KEY,
    source  TEXT NOT NULL,
    kept_at INTEGER NOT NULL            -- microseconds UTC: first kept
);
