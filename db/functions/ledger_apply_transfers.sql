CREATE OR REPLACE FUNCTION ledger_apply_transfers() RETURNS trigger LANGUAGE plpgsql
-- Generic plans for every statement inside: measured (bench:ledger-profile, one caller), the
-- custom plans the planner otherwise keeps choosing cost as much planning per call as the work.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_keys text[];
  v_found int;
  v_named int;
  v_updated int;
BEGIN
  SELECT array_agg(DISTINCT operation_key) INTO v_keys FROM new_transfers;
  SELECT count(*) INTO v_found FROM ledger_operations WHERE idempotency_key = ANY (v_keys);
  IF v_found <> cardinality(v_keys) THEN
    RAISE EXCEPTION 'ledger: a transfer names an operation that does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  UPDATE accounts a SET posted = a.posted + d.delta
  FROM (
    SELECT account_id, sum(delta) AS delta FROM (
      SELECT credit_account_id AS account_id, amount AS delta FROM new_transfers
      UNION ALL
      SELECT debit_account_id, -amount FROM new_transfers
    ) moves GROUP BY account_id
  ) d
  WHERE a.id = d.account_id;
  GET DIAGNOSTICS v_updated = ROW_COUNT;
  SELECT count(*) INTO v_named FROM (
    SELECT credit_account_id FROM new_transfers UNION SELECT debit_account_id FROM new_transfers) ids;
  IF v_updated <> v_named THEN
    RAISE EXCEPTION 'ledger: a transfer names an account that does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
