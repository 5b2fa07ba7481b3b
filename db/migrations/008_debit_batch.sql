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
CREATE FUNCTION ledger_debit_batch(
  p_keys text[], p_hashes text[], p_users uuid[], p_amounts bigint[], p_credit_ids bigint[],
  p_kinds text[], p_descriptions text[], p_memos text[]
) RETURNS TABLE (out_key text, out_outcome text, out_hash text, out_result jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_has_holds boolean;
  v_user uuid;
  v_purchased bigint;
  v_earned bigint;
  v_take bigint;
  -- Keys seen before, with their stored request hash and result (an index lookup on purpose:
  -- a join here may be planned as a scan of the whole table).
  s_keys text[];
  s_hashes text[];
  s_results jsonb[];
  -- The debits that go through, with their legs: written below in one INSERT each.
  a_idx int[];
  a_purchased bigint[];
  a_earned bigint[];
  a_after bigint[];
  a_purchased_id bigint[];
  a_earned_id bigint[];
  -- Requests of users whose batch total exceeds their balance (or who have no accounts):
  -- decided one by one, in arrival order.
  l_idx int[];
  l_user uuid[];
  l_amount bigint[];
  l_purchased_id bigint[];
  l_earned_id bigint[];
  l_purchased bigint[];
  l_earned bigint[];
BEGIN
  -- 1. Lock every bucket of every user in the batch in id order (the global lock order).
  SELECT coalesce(bool_or(held > 0), false) INTO v_has_holds
  FROM (SELECT held FROM accounts WHERE user_id = ANY (p_users) ORDER BY id FOR UPDATE) locked;
  -- Expired holds must not keep credits from a debit: release them first.
  IF v_has_holds THEN
    UPDATE holds SET status = 'expired', resolved_at = now()
    WHERE status = 'pending' AND expires_at <= now() AND user_id = ANY (p_users);
  END IF;

  -- 2. A key seen before answers with its stored outcome and spends nothing.
  SELECT array_agg(o.idempotency_key), array_agg(o.request_hash), array_agg(o.result)
  INTO s_keys, s_hashes, s_results
  FROM ledger_operations o WHERE o.idempotency_key = ANY (p_keys);
  IF s_keys IS NOT NULL THEN
    RETURN QUERY SELECT k, 'stored'::text, h, res FROM unnest(s_keys, s_hashes, s_results) AS s(k, h, res);
  END IF;

  -- 3. New requests spend in the domain's SPENDING_ORDER: purchased first, then earned, each
  --    user's requests in arrival order. When a user's whole batch fits their balance (nearly
  --    always), running totals give every leg at once; otherwise the loop below decides.
  SELECT array_agg(x.idx ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(greatest(0, least(x.cum, x.purchased) - (x.cum - x.amount)) ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.amount - greatest(0, least(x.cum, x.purchased) - (x.cum - x.amount)) ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.purchased + x.earned - x.cum ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.purchased_id ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.earned_id ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.idx ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.user_id ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.amount ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.purchased_id ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.earned_id ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.purchased ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.earned ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits)
  INTO a_idx, a_purchased, a_earned, a_after, a_purchased_id, a_earned_id,
       l_idx, l_user, l_amount, l_purchased_id, l_earned_id, l_purchased, l_earned
  FROM (
    SELECT y.*, y.purchased_id IS NOT NULL AND y.total <= y.purchased + y.earned AS fits
    FROM (
      SELECT q.idx::int AS idx, q.user_id, q.amount,
             p.id AS purchased_id, p.posted - p.held AS purchased,
             e.id AS earned_id, e.posted - e.held AS earned,
             (sum(q.amount) OVER (PARTITION BY q.user_id ORDER BY q.idx))::bigint AS cum,
             (sum(q.amount) OVER (PARTITION BY q.user_id))::bigint AS total
      FROM unnest(p_keys, p_users, p_amounts) WITH ORDINALITY AS q(key, user_id, amount, idx)
      LEFT JOIN accounts p ON p.user_id = q.user_id AND p.bucket = 'purchased'
      LEFT JOIN accounts e ON e.user_id = q.user_id AND e.bucket = 'earned'
      WHERE s_keys IS NULL OR q.key <> ALL (s_keys)
    ) y
  ) x;
  a_idx := coalesce(a_idx, '{}');
  a_purchased := coalesce(a_purchased, '{}');
  a_earned := coalesce(a_earned, '{}');
  a_after := coalesce(a_after, '{}');
  a_purchased_id := coalesce(a_purchased_id, '{}');
  a_earned_id := coalesce(a_earned_id, '{}');

  FOR i IN 1 .. coalesce(cardinality(l_idx), 0) LOOP
    IF v_user IS DISTINCT FROM l_user[i] THEN
      v_user := l_user[i];
      v_purchased := coalesce(l_purchased[i], 0);
      v_earned := coalesce(l_earned[i], 0);
    END IF;
    IF l_purchased_id[i] IS NULL THEN
      out_key := p_keys[l_idx[i]]; out_outcome := 'missing'; out_hash := NULL; out_result := NULL;
      RETURN NEXT;
    ELSIF v_purchased + v_earned < l_amount[i] THEN
      out_key := p_keys[l_idx[i]]; out_outcome := 'insufficient'; out_hash := NULL;
      out_result := jsonb_build_object('available', v_purchased + v_earned);
      RETURN NEXT;
    ELSE
      v_take := least(l_amount[i], v_purchased);
      v_purchased := v_purchased - v_take;
      v_earned := v_earned - (l_amount[i] - v_take);
      a_idx := a_idx || l_idx[i];
      a_purchased := a_purchased || v_take;
      a_earned := a_earned || (l_amount[i] - v_take);
      a_after := a_after || (v_purchased + v_earned);
      a_purchased_id := a_purchased_id || l_purchased_id[i];
      a_earned_id := a_earned_id || l_earned_id[i];
    END IF;
  END LOOP;
  IF cardinality(a_idx) = 0 THEN
    RETURN;
  END IF;

  -- 3. The operations (idempotency records with the result a replay returns).
  RETURN QUERY
    WITH done AS (
      SELECT d.idx, d.purchased, d.earned, d.after
      FROM unnest(a_idx, a_purchased, a_earned, a_after) AS d(idx, purchased, earned, after)
    ), stored AS (
      INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result)
      SELECT p_keys[d.idx], 'debit', p_hashes[d.idx],
             jsonb_build_object(
               'amount', p_amounts[d.idx],
               'availableAfter', d.after,
               'legs', (SELECT coalesce(jsonb_agg(jsonb_build_object('bucket', l.bucket, 'amount', l.amount)), '[]')
                        FROM (VALUES ('purchased', d.purchased), ('earned', d.earned)) AS l(bucket, amount)
                        WHERE l.amount > 0)
             ) || CASE WHEN p_memos[d.idx] IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('memo', p_memos[d.idx]::jsonb) END
      FROM done d
      RETURNING idempotency_key, result
    )
    SELECT s.idempotency_key, 'ok'::text, NULL::text, s.result FROM stored s;

  -- 4. System accounts last, in id order, then one INSERT for every leg: the statement trigger
  --    sums them per account, so a hot row is updated once per batch.
  PERFORM 1 FROM accounts
  WHERE id = ANY (ARRAY(SELECT DISTINCT p_credit_ids[i] FROM unnest(a_idx) AS i)) ORDER BY id FOR UPDATE;
  INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind, description)
  SELECT p_keys[d.idx], l.account_id, p_credit_ids[d.idx], l.amount, p_kinds[d.idx], p_descriptions[d.idx]
  FROM unnest(a_idx, a_purchased_id, a_purchased, a_earned_id, a_earned)
         AS d(idx, purchased_id, purchased, earned_id, earned)
  CROSS JOIN LATERAL (VALUES (d.purchased_id, d.purchased), (d.earned_id, d.earned)) AS l(account_id, amount)
  WHERE l.amount > 0;
END $$;

-- Set-based integrity for transfers. The per-row foreign keys (three index probes and row locks
-- for every transfer row) cost more than the rest of a batch; the statement trigger that applies
-- a batch now checks the same thing once per statement: every account it names exists (each must
-- be updated) and every operation key exists. Accounts and operations can never be deleted, so
-- the check at insert time is all a foreign key would have given.
ALTER TABLE transfers
  DROP CONSTRAINT transfers_operation_key_fkey,
  DROP CONSTRAINT transfers_debit_account_id_fkey,
  DROP CONSTRAINT transfers_credit_account_id_fkey;

CREATE OR REPLACE FUNCTION ledger_apply_transfers() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_named int;
  v_updated int;
BEGIN
  IF EXISTS (SELECT 1 FROM new_transfers t
             WHERE NOT EXISTS (SELECT 1 FROM ledger_operations o WHERE o.idempotency_key = t.operation_key)) THEN
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
