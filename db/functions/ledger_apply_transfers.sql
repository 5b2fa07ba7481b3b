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
  -- One statement counts what it checks and applies the per-account sums: every operation named
  -- must exist (the batch's distinct keys, looked up by index with = ANY: an anti-join here may
  -- be planned as a scan of the whole ledger_operations table), and every account named must
  -- exist (each must be updated). The balances move only when every operation exists, so a
  -- transfer without its operation is refused as that, never as the overdraft its amounts would
  -- also cause. One statement, not one per check: on the path of one debit per transaction each
  -- statement's fixed cost is what the trigger costs (measured in scratch A/Bs of one debit per
  -- transaction, each order once: +5–6% against two statements; the operations' gate on the sums
  -- about −2%, within noise). A refusal raises, so the update rolls back with the INSERT.
  WITH k AS (
    SELECT array_agg(DISTINCT operation_key) AS keys FROM new_transfers
  ), ops AS (
    SELECT coalesce(cardinality(k.keys), 0) AS named,
           (SELECT count(*) FROM ledger_operations WHERE idempotency_key = ANY (k.keys)) AS found
    FROM k
  ), d AS (
    SELECT account_id, sum(delta) AS delta FROM (
      SELECT credit_account_id AS account_id, amount AS delta FROM new_transfers
      UNION ALL
      SELECT debit_account_id, -amount FROM new_transfers
    ) moves
    WHERE (SELECT ops.found = ops.named FROM ops)
    GROUP BY account_id
  ), u AS (
    UPDATE accounts a SET posted = a.posted + d.delta FROM d WHERE a.id = d.account_id RETURNING 1
  )
  SELECT ops.named, ops.found, (SELECT count(*) FROM d), (SELECT count(*) FROM u)
  INTO v_keys, v_found, v_named, v_updated
  FROM ops;
  IF v_found <> v_keys THEN
    RAISE EXCEPTION 'ledger: a transfer names an operation that does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF v_updated <> v_named THEN
    RAISE EXCEPTION 'ledger: a transfer names an account that does not exist'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
