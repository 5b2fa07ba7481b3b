-- What may be cashed out of one account right now: the credits that reached it and have cleared,
-- less everything that ever left it and everything held on it (spending never makes uncleared
-- credits withdrawable: it is counted against the cleared ones first). 0 for accounts that are
-- not withdrawable. Read by the balance and, under the account's lock, by a withdrawal's hold.
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
BEGIN
  RETURN (SELECT CASE WHEN NOT a.withdrawable THEN 0 ELSE greatest(0,
           coalesce((SELECT sum(t.amount) FROM transfers t
                     WHERE t.credit_account_id = a.id AND (t.clears_at IS NULL OR t.clears_at <= now())), 0)
           - coalesce((SELECT sum(t.amount) FROM transfers t WHERE t.debit_account_id = a.id), 0)
           + coalesce((SELECT sum(m.amount)
                       FROM (SELECT DISTINCT c.operation_key FROM transfers c
                             WHERE c.credit_account_id = a.id AND c.clears_at > now()) clearing
                       JOIN ledger_operations r ON r.reverses = clearing.operation_key
                       JOIN transfers m ON m.operation_key = r.idempotency_key AND m.debit_account_id = a.id), 0)
           - a.held) END::bigint
  FROM accounts a WHERE a.id = p_account);
END $$;
