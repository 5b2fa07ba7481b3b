-- The accounts' two guard triggers, named by the columns they guard. Postgres reads and prepares
-- a row trigger's WHEN condition once per statement that updates the table, before asking it of
-- any row; the ledger updates balances in one statement per transaction on the one-debit path,
-- so it paid for parsing both conditions (about 4,500 characters of stored expression) on every
-- debit (perf, bench:ledger one debit per transaction: 2–3% of Postgres's CPU). With a column
-- list, a trigger whose columns the UPDATE does not set is skipped before its condition is read.
-- The rules are unchanged: the balances' guard still refuses any change of posted or held made
-- outside the ledger's triggers (its function compares old and new), the rules' guard any change
-- of an account's rules.
DROP TRIGGER accounts_guard_balances ON accounts;
CREATE TRIGGER accounts_guard_balances BEFORE UPDATE OF posted, held ON accounts
  FOR EACH ROW WHEN (pg_trigger_depth() < 1)
  EXECUTE FUNCTION ledger_guard_account_balances();

DROP TRIGGER accounts_rules_immutable ON accounts;
CREATE TRIGGER accounts_rules_immutable
  BEFORE UPDATE OF allow_negative, spend_rank, withdrawable, system_name, shard, user_id, bucket
  ON accounts
  FOR EACH ROW WHEN (NEW.allow_negative IS DISTINCT FROM OLD.allow_negative
                     OR NEW.spend_rank IS DISTINCT FROM OLD.spend_rank
                     OR NEW.withdrawable IS DISTINCT FROM OLD.withdrawable
                     OR NEW.system_name IS DISTINCT FROM OLD.system_name
                     OR NEW.shard IS DISTINCT FROM OLD.shard
                     OR NEW.user_id IS DISTINCT FROM OLD.user_id
                     OR NEW.bucket IS DISTINCT FROM OLD.bucket)
  EXECUTE FUNCTION ledger_refuse_change();
