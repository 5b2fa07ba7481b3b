-- Group commit in one statement: a whole batch of debits is one call, so no round trip to the
-- application happens while user or system rows are locked. Each request still succeeds or
-- fails on its own.
--
-- Input: parallel arrays, one element per request, keys unique within the call (the caller
-- resolves twins). Output: one row per request:
--   'ok'           applied; out_available is the user's available balance after it and
--                  out_legs the JSON array of what each bucket gave (as stored for replays),
--   'stored'       the key was used before: out_hash and out_result are the stored ones (the
--                  caller decides replay or conflict),
--   'insufficient' nothing moved; out_available is what the user has,
--   'missing'      the user has no accounts.
-- A request with a share (p_share_users[i] not NULL) also pays that user's earned account
-- p_share_amounts[i] out of the credited system account, clearing after p_share_clear_seconds[i]:
-- a creator's share, in the same operation as the charge (DESIGN.md §11).
--
-- Signature changes: any other overload is dropped first (CREATE OR REPLACE cannot change
-- arguments or the result), the current one is replaced in place.
DO $$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT oid::regprocedure FROM pg_proc
           WHERE proname = 'ledger_debit_batch'
             AND pg_get_function_identity_arguments(oid) <> 'p_keys text[], p_hashes text[], p_users uuid[], p_amounts bigint[], p_credit_ids bigint[], p_kinds text[], p_descriptions text[], p_memos text[], p_agent_ids text[], p_cause_types text[], p_cause_ids text[], p_share_users uuid[], p_share_amounts bigint[], p_share_clear_seconds integer[]'
  LOOP
    EXECUTE 'DROP FUNCTION ' || f;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION ledger_debit_batch(
  p_keys text[], p_hashes text[], p_users uuid[], p_amounts bigint[], p_credit_ids bigint[],
  p_kinds text[], p_descriptions text[], p_memos text[], p_agent_ids text[], p_cause_types text[],
  p_cause_ids text[], p_share_users uuid[], p_share_amounts bigint[], p_share_clear_seconds int[]
) RETURNS TABLE (out_key text, out_outcome text, out_hash text, out_result jsonb,
                 out_available bigint, out_legs text)
LANGUAGE plpgsql
-- Generic plans for every statement inside: measured (bench:ledger-profile, one caller), the
-- custom plans the planner otherwise keeps choosing cost as much planning per call as the work.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  v_has_holds boolean;
  -- The share receivers' earned accounts (user, account), found while locking them.
  e_users uuid[];
  e_ids bigint[];
  v_user uuid;
  v_spent bigint;
  v_available bigint;
  -- Keys seen before, with their stored request hash and result (an index lookup on purpose:
  -- a join here may be planned as a scan of the whole table).
  s_keys text[];
  s_hashes text[];
  s_results jsonb[];
  -- The debits that go through: each one's position in the batch, how much of its user's
  -- spendable credits earlier debits of the batch took (where it starts in the spending
  -- order), and the user's available balance after it.
  a_idx int[];
  a_start bigint[];
  a_after bigint[];
  -- Requests of users whose batch total exceeds their balance (or who have no accounts):
  -- decided one by one, in arrival order.
  l_idx int[];
  l_user uuid[];
  l_amount bigint[];
  l_available bigint[];
  -- The legs of the debits that go through, in batch order then spending order.
  g_idx int[];
  g_account bigint[];
  g_bucket text[];
  g_amount bigint[];
  -- A batch of one (one operation per transaction, or a quiet moment of the group commit): its
  -- payer's spendable accounts in spending order, and the share receiver's earned account.
  o_ids bigint[] := '{}';
  o_buckets text[] := '{}';
  o_available bigint[] := '{}';
  o_row record;
  o_share_account bigint;
  o_left bigint;
  o_take bigint;
  o_legs text;
  o_from bigint[] := '{}';
  o_to bigint[];
  o_amounts bigint[] := '{}';
  o_kinds text[];
  o_clear int[];
  o_n int;
BEGIN
  -- A batch of one decides in a few scalar statements what the steps below decide with set
  -- operations for many: the same lock order, the same spending order (spend_rank), the same
  -- outcomes and stored result, the same posting primitive. Measured (bench:ledger, one debit
  -- per transaction): the set-based steps' fixed cost per statement made a single debit cost a
  -- quarter more. A payer with holds takes the general path (expired holds are released there).
  -- test/ledger/debit-batch.test.ts holds both paths to the same answers.
  IF cardinality(p_keys) = 1 THEN
    FOR o_row IN
      SELECT l.id, l.user_id, l.bucket, l.available, l.held FROM (
        SELECT id, user_id, bucket, spend_rank, posted - held AS available, held FROM accounts
        WHERE spend_rank IS NOT NULL
          AND (user_id = p_users[1] OR (user_id = p_share_users[1] AND bucket = 'earned'))
        ORDER BY id FOR UPDATE) l
      ORDER BY l.spend_rank
    LOOP
      IF o_row.user_id = p_share_users[1] AND o_row.bucket = 'earned' THEN
        o_share_account := o_row.id;
      END IF;
      IF o_row.user_id = p_users[1] THEN
        v_has_holds := coalesce(v_has_holds, false) OR o_row.held > 0;
        v_available := coalesce(v_available, 0) + o_row.available;
        o_ids := o_ids || o_row.id;
        o_buckets := o_buckets || o_row.bucket;
        o_available := o_available || o_row.available;
      END IF;
    END LOOP;
    IF NOT coalesce(v_has_holds, false) THEN
      SELECT o.request_hash, o.result INTO out_hash, out_result
      FROM ledger_operations o WHERE o.idempotency_key = p_keys[1];
      out_key := p_keys[1];
      IF FOUND THEN
        out_outcome := 'stored'; out_available := NULL; out_legs := NULL;
        RETURN NEXT;
        RETURN;
      END IF;
      out_hash := NULL; out_result := NULL; out_legs := NULL;
      IF cardinality(o_ids) = 0 THEN
        out_outcome := 'missing'; out_available := NULL;
        RETURN NEXT;
        RETURN;
      END IF;
      IF v_available < p_amounts[1] THEN
        out_outcome := 'insufficient'; out_available := v_available;
        RETURN NEXT;
        RETURN;
      END IF;
      -- Each account in spending order gives what it has until the amount is covered.
      o_left := p_amounts[1];
      FOR i IN 1 .. cardinality(o_ids) LOOP
        EXIT WHEN o_left = 0;
        o_take := least(o_left, greatest(o_available[i], 0));
        IF o_take > 0 THEN
          o_from := o_from || o_ids[i];
          o_amounts := o_amounts || o_take;
          o_legs := coalesce(o_legs || ',', '') || '{"bucket":"' || o_buckets[i] || '","amount":' || o_take || '}';
          o_left := o_left - o_take;
        END IF;
      END LOOP;
      o_legs := '[' || o_legs || ']';
      INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result)
      VALUES (p_keys[1], 'debit', p_hashes[1],
              ('{' || CASE WHEN p_memos[1] IS NULL THEN '' ELSE '"memo":' || p_memos[1] || ',' END
                   || '"amount":' || p_amounts[1] || ',"availableAfter":' || (v_available - p_amounts[1])
                   || ',"legs":' || o_legs || '}')::jsonb);
      -- The charge's legs (payer to system account), then the share (system account to the
      -- receiver's earned account), as step 6 below writes them.
      o_n := cardinality(o_from);
      o_to := array_fill(p_credit_ids[1], ARRAY[o_n]);
      o_kinds := array_fill(p_kinds[1], ARRAY[o_n]);
      o_clear := array_fill(NULL::int, ARRAY[o_n]);
      IF o_share_account IS NOT NULL AND p_share_amounts[1] > 0 THEN
        o_from := o_from || p_credit_ids[1];
        o_to := o_to || o_share_account;
        o_amounts := o_amounts || p_share_amounts[1];
        o_kinds := o_kinds || 'creator_share'::text;
        o_clear := o_clear || p_share_clear_seconds[1];
        o_n := o_n + 1;
      END IF;
      PERFORM ledger_post_legs(
        array_fill(p_keys[1], ARRAY[o_n]), o_from, o_to, o_amounts, o_kinds,
        array_fill(p_descriptions[1], ARRAY[o_n]), array_fill(p_agent_ids[1], ARRAY[o_n]),
        array_fill(p_cause_types[1], ARRAY[o_n]), array_fill(p_cause_ids[1], ARRAY[o_n]),
        o_clear, array_fill(NULL::uuid, ARRAY[o_n]));
      out_outcome := 'ok'; out_available := v_available - p_amounts[1]; out_legs := o_legs;
      RETURN NEXT;
      RETURN;
    END IF;
  END IF;

  -- 1. Lock every spendable account of every payer in the batch and the earned account of every
  --    share receiver, in id order (the global order: accounts that may not go negative first,
  --    by id; ledger_post_legs locks the rest after). Only payers' holds matter below. The
  --    receivers' earned accounts are remembered here, so the shares' legs need no lookup of
  --    their own (measured: a join with accounts there cost as much as the rest of the legs).
  SELECT coalesce(bool_or(held > 0 AND user_id = ANY (p_users)), false),
         array_agg(user_id) FILTER (WHERE bucket = 'earned' AND user_id = ANY (p_share_users)),
         array_agg(id) FILTER (WHERE bucket = 'earned' AND user_id = ANY (p_share_users))
  INTO v_has_holds, e_users, e_ids
  FROM (SELECT id, held, user_id, bucket FROM accounts
        WHERE spend_rank IS NOT NULL
          AND (user_id = ANY (p_users) OR (user_id = ANY (p_share_users) AND bucket = 'earned'))
        ORDER BY id FOR UPDATE) locked;
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
    RETURN QUERY SELECT k, 'stored'::text, h, res, NULL::bigint, NULL::text
                 FROM unnest(s_keys, s_hashes, s_results) AS s(k, h, res);
  END IF;

  -- 3. Which debits go through, each user's in arrival order. When a user's whole batch fits
  --    their spendable balance (nearly always), running totals decide every request at once;
  --    otherwise the loop below does.
  SELECT array_agg(x.idx ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.cum - x.amount ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.available - x.cum ORDER BY x.idx) FILTER (WHERE x.fits),
         array_agg(x.idx ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.user_id ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.amount ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits),
         array_agg(x.available ORDER BY x.user_id, x.idx) FILTER (WHERE NOT x.fits)
  INTO a_idx, a_start, a_after, l_idx, l_user, l_amount, l_available
  FROM (
    SELECT y.*, y.available IS NOT NULL AND y.total <= y.available AS fits
    FROM (
      SELECT q.idx::int AS idx, q.user_id, q.amount, s.available,
             (sum(q.amount) OVER (PARTITION BY q.user_id ORDER BY q.idx))::bigint AS cum,
             (sum(q.amount) OVER (PARTITION BY q.user_id))::bigint AS total
      FROM unnest(p_keys, p_users, p_amounts) WITH ORDINALITY AS q(key, user_id, amount, idx)
      LEFT JOIN (SELECT a.user_id, sum(a.posted - a.held)::bigint AS available FROM accounts a
                 WHERE a.user_id = ANY (p_users) AND a.spend_rank IS NOT NULL GROUP BY a.user_id) s
        ON s.user_id = q.user_id
      WHERE s_keys IS NULL OR q.key <> ALL (s_keys)
    ) y
  ) x;
  a_idx := coalesce(a_idx, '{}');
  a_start := coalesce(a_start, '{}');
  a_after := coalesce(a_after, '{}');

  FOR i IN 1 .. coalesce(cardinality(l_idx), 0) LOOP
    IF v_user IS DISTINCT FROM l_user[i] THEN
      v_user := l_user[i];
      v_spent := 0;
      v_available := l_available[i];
    END IF;
    IF v_available IS NULL THEN
      out_key := p_keys[l_idx[i]]; out_outcome := 'missing'; out_hash := NULL; out_result := NULL;
      out_available := NULL; out_legs := NULL;
      RETURN NEXT;
    ELSIF v_available - v_spent < l_amount[i] THEN
      out_key := p_keys[l_idx[i]]; out_outcome := 'insufficient'; out_hash := NULL; out_result := NULL;
      out_available := v_available - v_spent; out_legs := NULL;
      RETURN NEXT;
    ELSE
      a_idx := a_idx || l_idx[i];
      a_start := a_start || v_spent;
      v_spent := v_spent + l_amount[i];
      a_after := a_after || (v_available - v_spent);
    END IF;
  END LOOP;
  IF cardinality(a_idx) = 0 THEN
    RETURN;
  END IF;

  -- 4. The legs, in the accounts' spending order (spend_rank): a debit that starts `start`
  --    credits into its user's spendable balance takes, from each account, the overlap of
  --    [start, start + amount) with that account's slice of the balance.
  SELECT array_agg(l.idx ORDER BY l.idx, l.spend_rank), array_agg(l.account_id ORDER BY l.idx, l.spend_rank),
         array_agg(l.bucket ORDER BY l.idx, l.spend_rank), array_agg(l.amount ORDER BY l.idx, l.spend_rank)
  INTO g_idx, g_account, g_bucket, g_amount
  FROM (
    SELECT d.idx, acc.id AS account_id, acc.bucket, acc.spend_rank,
           least(d.start + r.amount, acc.upto) - greatest(d.start, acc.upto - acc.available) AS amount
    FROM unnest(a_idx, a_start) AS d(idx, start)
    JOIN unnest(p_users, p_amounts) WITH ORDINALITY AS r(user_id, amount, idx) ON r.idx = d.idx
    JOIN (SELECT a.id, a.user_id, a.bucket, a.spend_rank, a.posted - a.held AS available,
                 (sum(a.posted - a.held) OVER (PARTITION BY a.user_id ORDER BY a.spend_rank))::bigint AS upto
          FROM accounts a WHERE a.user_id = ANY (p_users) AND a.spend_rank IS NOT NULL) acc
      ON acc.user_id = r.user_id
  ) l
  WHERE l.amount > 0;

  -- 5. The operations (idempotency records with the result a replay returns).
  RETURN QUERY
    WITH legs AS (
      SELECT g.idx, '[' || string_agg('{"bucket":"' || g.bucket || '","amount":' || g.amount || '}', ','
                                      ORDER BY g.ord) || ']' AS legs
      FROM unnest(g_idx, g_bucket, g_amount) WITH ORDINALITY AS g(idx, bucket, amount, ord)
      GROUP BY g.idx
    ), done AS (
      SELECT d.idx, d.after, l.legs, r.key, r.hash, r.amount, r.memo
      FROM unnest(a_idx, a_after) AS d(idx, after)
      JOIN legs l ON l.idx = d.idx
      JOIN unnest(p_keys, p_hashes, p_amounts, p_memos) WITH ORDINALITY AS r(key, hash, amount, memo, idx)
        ON r.idx = d.idx
    ), stored AS (
      INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result)
      SELECT d.key, 'debit', d.hash,
             -- Written as JSON text and parsed once: building it with jsonb functions cost
             -- twice as much per row. The caller's memo (its own JSON.stringify of an object)
             -- goes first: even a memo text that smuggled in more keys could not override the
             -- ledger's fields after it (in jsonb the last of repeated keys wins).
             ('{' || CASE WHEN d.memo IS NULL THEN '' ELSE '"memo":' || d.memo || ',' END
                  || '"amount":' || d.amount || ',"availableAfter":' || d.after
                  || ',"legs":' || d.legs || '}')::jsonb
      FROM done d
    )
    SELECT d.key, 'ok'::text, NULL::text, NULL::jsonb, d.after, d.legs FROM done d;

  -- 6. Every leg through the posting primitive, in one INSERT: the statement trigger sums them
  --    per account, so a hot row is updated once per batch. The charges' legs (payer to system
  --    account), then the shares of the debits that went through (system account to the
  --    receiver's earned account).
  PERFORM ledger_post_legs(
    array_agg(l.key ORDER BY l.ord), array_agg(l.from_id ORDER BY l.ord),
    array_agg(l.to_id ORDER BY l.ord), array_agg(l.amount ORDER BY l.ord),
    array_agg(l.kind ORDER BY l.ord), array_agg(l.description ORDER BY l.ord),
    array_agg(l.agent_id ORDER BY l.ord), array_agg(l.cause_type ORDER BY l.ord),
    array_agg(l.cause_id ORDER BY l.ord), array_agg(l.clear_seconds ORDER BY l.ord),
    array_agg(NULL::uuid ORDER BY l.ord))
  FROM (
    SELECT g.ord, r.key, g.account AS from_id, r.credit_id AS to_id, g.amount, r.kind, r.description,
           r.agent_id, r.cause_type, r.cause_id, NULL::int AS clear_seconds
    FROM unnest(g_idx, g_account, g_amount) WITH ORDINALITY AS g(idx, account, amount, ord)
    JOIN unnest(p_keys, p_credit_ids, p_kinds, p_descriptions, p_agent_ids, p_cause_types, p_cause_ids)
         WITH ORDINALITY AS r(key, credit_id, kind, description, agent_id, cause_type, cause_id, idx)
      ON r.idx = g.idx
    UNION ALL
    SELECT cardinality(g_idx) + d.idx, r.key, r.credit_id, e.id, r.share_amount, 'creator_share',
           r.description, r.agent_id, r.cause_type, r.cause_id, r.clear_seconds
    FROM unnest(a_idx) AS d(idx)
    JOIN unnest(p_keys, p_credit_ids, p_descriptions, p_agent_ids, p_cause_types, p_cause_ids,
                p_share_users, p_share_amounts, p_share_clear_seconds)
         WITH ORDINALITY AS r(key, credit_id, description, agent_id, cause_type, cause_id,
                              share_user, share_amount, clear_seconds, idx)
      ON r.idx = d.idx
    JOIN unnest(e_users, e_ids) AS e(user_id, id) ON e.user_id = r.share_user
    WHERE r.share_user IS NOT NULL AND r.share_amount > 0
  ) l;
END $$;
