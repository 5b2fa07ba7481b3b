-- What may be cashed out of one account right now: the credits that reached it and have cleared,
-- less everything that ever left it and everything held on it (spending never makes uncleared
-- credits withdrawable: it is counted against the cleared ones first). 0 for accounts that are
-- not withdrawable. Read by the balance and, under the account's lock, by a withdrawal's hold.
--
-- Computed from the account's posted balance (every credit less every debit, kept by the
-- transfers trigger), less what is held and the credits still clearing: one pass over the
-- account's credits to find those still clearing, and no sum of its debits (SCALING.md says what
-- bounding that pass would cost).
--
-- What the ledger withholds from the account (db/migrations/027_withholdings.sql: a referral
-- reward's shortfall) is never withdrawable, though it may be spent.
--
-- A reversal that took back a credit still clearing (a reversed usage charge's creator share) is
-- counted against that credit, not against the cleared ones: until the credit clears neither
-- counts, after it both do. Found through the reversals that name the credits still clearing
-- (their operations' `reverses`, a unique index), so the extra reads are bounded by the credits
-- of the clearing period, not by the account's history. (A referral clawback is its own
-- operation, not a reversal: it still counts against the cleared credits until the reward's
-- clearing date, which only ever shows less as withdrawable, never more.)
--
-- plpgsql, not sql: migrate applies functions before the migrations, and a sql function's body
-- is checked against tables that a fresh database does not have yet.
CREATE OR REPLACE FUNCTION ledger_account_withdrawable(p_account bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_withdrawable boolean;
  v_posted bigint;
  v_held bigint;
  v_clearing bigint;
  v_clearing_keys text[];
  v_reversed bigint;
  v_withheld bigint;
BEGIN
  SELECT a.withdrawable, a.posted, a.held INTO v_withdrawable, v_posted, v_held
  FROM accounts a WHERE a.id = p_account;
  IF NOT coalesce(v_withdrawable, false) THEN
    RETURN 0;
  END IF;
  SELECT coalesce(sum(c.amount), 0), array_agg(DISTINCT c.operation_key)
  INTO v_clearing, v_clearing_keys
  FROM transfers c WHERE c.credit_account_id = p_account AND c.clears_at > now();
  SELECT coalesce(sum(m.amount), 0) INTO v_reversed
  FROM ledger_operations r
  JOIN transfers m ON m.operation_key = r.idempotency_key AND m.debit_account_id = p_account
  WHERE r.reverses = ANY (v_clearing_keys);
  v_withheld := ledger_account_withheld(p_account);
  RETURN greatest(0, v_posted - v_held - v_clearing + v_reversed - v_withheld);
END $$;
