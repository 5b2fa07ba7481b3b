-- Group commit in one statement (issue 3's fast path). A whole batch of debits is one call:
-- no round trip to the application while user or system rows are locked, so a hot row is held
-- only for the work itself and the commit. Each request still succeeds or fails on its own.
--
-- Input: parallel arrays, one element per request, keys unique within the call (the caller
-- resolves twins). Output: one row per request:
--   'ok'           the debit was applied; `result` is what was stored for replays,
--   'stored'       the key was used before; `request_hash` and `result` are the stored ones
--                  (the caller decides replay or conflict),
--   'insufficient' nothing moved; `result` is {"available": n},
--   'missing'      the user has no accounts.
-- ledger_debit_batch: see db/functions/ledger_debit_batch.sql (re-applied by every migrate).

-- Set-based integrity for transfers. The per-row foreign keys (three index probes and row locks
-- for every transfer row) cost more than the rest of a batch; the statement trigger that applies
-- a batch now checks the same thing once per statement: every account it names exists (each must
-- be updated) and every operation key exists. Accounts and operations can never be deleted, so
-- the check at insert time is all a foreign key would have given.
ALTER TABLE transfers
  DROP CONSTRAINT transfers_operation_key_fkey,
  DROP CONSTRAINT transfers_debit_account_id_fkey,
  DROP CONSTRAINT transfers_credit_account_id_fkey;

-- ledger_apply_transfers: see db/functions/ledger_apply_transfers.sql (re-applied by every migrate).

CREATE TRIGGER accounts_no_delete BEFORE DELETE ON accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_operations_immutable BEFORE UPDATE OR DELETE ON ledger_operations
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_operations_no_truncate BEFORE TRUNCATE ON ledger_operations
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- Idempotency keys are opaque identifiers: compare them byte-wise ("C"), not by the database's
-- linguistic collation, which costs a strcoll per comparison in every index descent.
ALTER TABLE ledger_operations ALTER COLUMN idempotency_key TYPE text COLLATE "C";
ALTER TABLE transfers ALTER COLUMN operation_key TYPE text COLLATE "C";
ALTER TABLE holds ALTER COLUMN operation_key TYPE text COLLATE "C";
ALTER TABLE accounts ALTER COLUMN bucket TYPE text COLLATE "C";
