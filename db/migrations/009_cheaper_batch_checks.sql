-- Cheaper per-batch checks (issue 3's fast path), found with `npm run bench:ledger-profile`.
--
-- 1. The transfers trigger's "every operation key exists" check was a NOT EXISTS anti-join over a
--    transition table, which the cached generic plan may run as a hash join over the WHOLE
--    ledger_operations table: measured at 53 µs per debit after 20,000 debits and growing with
--    the table. It now looks the batch's keys up by index (= ANY), whatever the table's size.
-- ledger_apply_transfers: see db/functions/ledger_apply_transfers.sql (re-applied by every migrate).

-- 2. The balance guard on accounts called a PL/pgSQL function for every updated row, the
--    ledger's own updates included. A WHEN condition is evaluated without calling it, so the
--    function now runs only for the updates it refuses. In WHEN, pg_trigger_depth() is the depth
--    of the statement doing the update: 0 for a client's UPDATE, 1 inside the ledger's triggers.
DROP TRIGGER accounts_guard_balances ON accounts;
CREATE TRIGGER accounts_start_at_zero BEFORE INSERT ON accounts
  FOR EACH ROW WHEN (NEW.posted <> 0 OR NEW.held <> 0)
  EXECUTE FUNCTION ledger_guard_account_balances();
CREATE TRIGGER accounts_guard_balances BEFORE UPDATE ON accounts
  FOR EACH ROW WHEN (pg_trigger_depth() < 1
                     AND (NEW.posted IS DISTINCT FROM OLD.posted OR NEW.held IS DISTINCT FROM OLD.held))
  EXECUTE FUNCTION ledger_guard_account_balances();

-- 3. The transfers' account indexes were (account, id DESC): every new transfer went to the
--    front of its account's range, so pages split in the middle and stayed half full. Ascending,
--    a new transfer goes to the end of its range, which B-tree splits handle as an append; reads
--    newest-first scan the same index backwards.
DROP INDEX transfers_debit_idx;
DROP INDEX transfers_credit_idx;
CREATE INDEX transfers_debit_idx ON transfers (debit_account_id, id);
CREATE INDEX transfers_credit_idx ON transfers (credit_account_id, id);

-- 4. The batch itself, as in 008, with less work per debit:
--    * each operation's result is written as JSON text and parsed once, not built with a
--      subquery and jsonb functions per row;
--    * the requests are read by joining their arrays' rows, not by subscripting each array per row;
--    * a new debit answers with three numbers (available after, purchased and earned legs)
--      instead of its whole stored result: the caller has the rest (amount, memo) already, and
--      converting and parsing that JSON again for every debit cost both sides. Replays still
--      answer with the stored result.
--    Outcomes as in 008, with out_available (for 'ok' and 'insufficient'), out_purchased and
--    out_earned (for 'ok') instead of a JSON result.
-- ledger_debit_batch: see db/functions/ledger_debit_batch.sql (re-applied by every migrate).
