CREATE OR REPLACE FUNCTION ledger_apply_transfers() RETURNS trigger LANGUAGE plpgsql
-- Generic plans for every statement inside: measured (bench:ledger-profile, one caller), the
-- custom plans the planner otherwise keeps choosing cost as much planning per call as the work.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_keys int;
  v_found int;
  v_named int;
  v_updated int;
BEGIN
  -- Every operation named must exist: the batch's distinct keys, looked up by index (= ANY; an
  -- anti-join here may be planned as a scan of the whole ledger_operations table).
  SELECT count(*), (SELECT count(*) FROM ledger_operations WHERE idempotency_key = ANY (array_agg(k.key)))
  INTO v_keys, v_found
  FROM (SELECT DISTINCT operation_key AS key FROM new_transfers) k;
  IF v_found <> v_keys THEN
    RAISE EXCEPTION 'ledger: a transfer names an operation that does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- One statement applies the per-account sums and counts what it named and what it updated:
  -- every account named must exist (each must be updated).
  WITH d AS (
    SELECT account_id, sum(delta) AS delta FROM (
      SELECT credit_account_id AS account_id, amount AS delta FROM new_transfers
      UNION ALL
      SELECT debit_account_id, -amount FROM new_transfers
    ) moves GROUP BY account_id
  ), u AS (
    UPDATE accounts a SET posted = a.posted + d.delta FROM d WHERE a.id = d.account_id RETURNING 1
  )
  SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM u) INTO v_named, v_updated;
  IF v_updated <> v_named THEN
    RAISE EXCEPTION 'ledger: a transfer names an account that does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
