-- What is withheld from an account now (db/migrations/027_withholdings.sql): its withholdings
-- less their releases. Read by ledger_account_withdrawable, the earnings report and the ledger's
-- withhold and release (db/ledger/withholdings.ts).
--
-- plpgsql, not sql: migrate applies functions before the migrations, and a sql function's body
-- is checked against tables that a fresh database does not have yet.
CREATE OR REPLACE FUNCTION ledger_account_withheld(p_account bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT coalesce(sum(w.amount), 0)::bigint FROM withholdings w WHERE w.account_id = p_account);
END $$;
