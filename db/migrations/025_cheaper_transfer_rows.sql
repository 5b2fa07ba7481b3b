-- Two per-row costs of every transfer, measured in scratch inserts of 100,000 transfer-shaped
-- rows in one statement (µs per row, each variant against a table without it, 4 rounds):
--
-- 1. The cause type's CHECK was `~ '^[a-z][a-z_]{0,39}$'`. Postgres builds a regular
--    expression's DFA states afresh for every row it checks, and a counted repeat makes one state
--    per character (perf of the group commit's backend: regex `miss` 4% of its CPU): 4.5–6 µs per
--    row against 0.5–1 µs for the same rule written as a plain repeat and a length. Same rule: a
--    lower-case letter, then lower-case letters and underscores, 40 characters at most.
ALTER TABLE transfers DROP CONSTRAINT transfers_cause_type_check,
  ADD CONSTRAINT transfers_cause_type_check CHECK (cause_type ~ '^[a-z][a-z_]*$' AND length(cause_type) <= 40);
ALTER TABLE holds DROP CONSTRAINT holds_cause_type_check,
  ADD CONSTRAINT holds_cause_type_check CHECK (cause_type ~ '^[a-z][a-z_]*$' AND length(cause_type) <= 40);

-- 2. "The transfers of one operation" (migration 019) is only ever asked with `=` (a reversal
--    mirrors its operation's transfers; checks and reads join on the key). A B-tree of the keys
--    (`usage:<user>:<event>`, about 80 bytes, in random order) cost 5–8 µs per row, a hash index
--    0–3 µs: it stores a 4-byte hash, not the key. Hash indexes are WAL-logged and crash-safe
--    (Postgres 10 and later).
DROP INDEX transfers_operation_idx;
CREATE INDEX transfers_operation_idx ON transfers USING hash (operation_key);
