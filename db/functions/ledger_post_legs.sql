-- The posting primitive: writes an operation's legs (one transfer row each) in one INSERT, after
-- locking every account they name in the ledger's one global order (accounts that must stay at
-- or above zero first, then the others, each group by id), so concurrent postings never
-- deadlock. The rules are the database's: the statement trigger applies the legs to the balances
-- and checks that every account and operation exists, and the accounts' CHECK refuses any leg
-- that would take an account below zero that may not go there. Any refusal fails the whole
-- statement, so either every leg of every operation in the call moves, or none does.
-- Every debit, hold post, credit, grant and reversal is written through this function.
--
-- Input: parallel arrays, one element per leg. `p_clear_seconds`: for credits into a
-- withdrawable account, how long until they clear (NULL: cleared at once).
CREATE OR REPLACE FUNCTION ledger_post_legs(
  p_keys text[], p_from bigint[], p_to bigint[], p_amounts bigint[], p_kinds text[],
  p_descriptions text[], p_agent_ids text[], p_cause_types text[], p_cause_ids text[],
  p_clear_seconds int[], p_hold_ids uuid[]
) RETURNS void LANGUAGE plpgsql
-- Generic plans for every statement inside: measured (bench:ledger-profile, one caller), the
-- custom plans the planner otherwise keeps choosing cost as much planning per call as the work.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_n int := coalesce(cardinality(p_keys), 0);
BEGIN
  IF v_n = 0 THEN
    RETURN;
  END IF;
  -- unnest pads shorter arrays with NULLs: a caller's miscount must not become a silent leg.
  IF v_n <> cardinality(p_from) OR v_n <> cardinality(p_to) OR v_n <> cardinality(p_amounts)
     OR v_n <> cardinality(p_kinds) OR v_n <> cardinality(p_descriptions)
     OR v_n <> cardinality(p_agent_ids) OR v_n <> cardinality(p_cause_types)
     OR v_n <> cardinality(p_cause_ids) OR v_n <> cardinality(p_clear_seconds)
     OR v_n <> cardinality(p_hold_ids) THEN
    RAISE EXCEPTION 'ledger: every leg needs every field (% legs)', v_n USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM 1 FROM accounts WHERE id = ANY (p_from || p_to) ORDER BY allow_negative, id FOR UPDATE;
  INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind, description,
                         agent_id, cause_type, cause_id, clears_at, hold_id)
  SELECT l.key, l.from_id, l.to_id, l.amount, l.kind, l.description, l.agent_id, l.cause_type, l.cause_id,
         CASE WHEN l.clear_seconds IS NULL THEN NULL ELSE now() + make_interval(secs => l.clear_seconds) END,
         l.hold_id
  FROM unnest(p_keys, p_from, p_to, p_amounts, p_kinds, p_descriptions, p_agent_ids, p_cause_types,
              p_cause_ids, p_clear_seconds, p_hold_ids)
       AS l(key, from_id, to_id, amount, kind, description, agent_id, cause_type, cause_id, clear_seconds, hold_id);
END $$;
