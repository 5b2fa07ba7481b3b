/**
 * Reversals of usage charges (DESIGN.md §12, migration 015): the row that keeps a reversal's
 * reason and answer, and what the use case reads about the charge first. The money itself is the
 * ledger's (db/ledger/reversals.ts); this module only reads ledger_operations.
 */
import type { Sql } from './pool';

export interface UsageReversal {
  eventId: string;
  userId: string;
  reason: string;
  /** Credits that went back to the user: the charge, less the creator's shortfall. */
  reversedCredits: number;
  /** Credits that came back from the agent's creator (0 when the charge paid no share). */
  creatorShareReversed: number;
  /** The part of the creator's share they had already spent or held, so it stayed with them (and was withheld from the user's refund). */
  creatorShareShortfall: number;
  createdAt: string;
}

interface ReversalRow {
  event_id: string;
  user_id: string;
  reason: string;
  credits: number;
  creator_share_reversed: number;
  creator_shortfall: number;
  created_at: Date;
}

function toReversal(row: ReversalRow): UsageReversal {
  return {
    eventId: row.event_id,
    userId: row.user_id,
    reason: row.reason,
    reversedCredits: row.credits,
    creatorShareReversed: row.creator_share_reversed,
    creatorShareShortfall: row.creator_shortfall,
    createdAt: row.created_at.toISOString(),
  };
}

/** The user's reversal of their event, or null. */
export async function findUsageReversal(
  sql: Sql,
  userId: string,
  eventId: string,
): Promise<UsageReversal | null> {
  const [row] = await sql<ReversalRow[]>`
    SELECT event_id, user_id, reason, credits, creator_share_reversed, creator_shortfall, created_at
    FROM usage_reversals WHERE user_id = ${userId} AND event_id = ${eventId}`;
  return row ? toReversal(row) : null;
}

/** A charge as a reversal needs it: how old it is (by the database's clock) and who reversed it. */
export interface ChargeToReverse {
  chargedAt: string;
  /** Charged less than `windowSeconds` ago. */
  withinWindow: boolean;
  /** The key of the ledger operation that reversed it, if one did. */
  reversedBy: string | null;
}

/** The charge recorded under `chargeKey`, or null when there is none (never charged, or not this user's). */
export async function chargeToReverse(
  sql: Sql,
  chargeKey: string,
  windowSeconds: number,
): Promise<ChargeToReverse | null> {
  const [row] = await sql<{ created_at: Date; within_window: boolean; reversed_by: string | null }[]>`
    SELECT c.created_at, c.created_at > now() - make_interval(secs => ${windowSeconds}) AS within_window,
           r.idempotency_key AS reversed_by
    FROM ledger_operations c LEFT JOIN ledger_operations r ON r.reverses = c.idempotency_key
    WHERE c.idempotency_key = ${chargeKey}`;
  if (!row) return null;
  return {
    chargedAt: row.created_at.toISOString(),
    withinWindow: row.within_window,
    reversedBy: row.reversed_by,
  };
}

/**
 * Records a reversal the ledger made, once per event: concurrent callers all get the one row
 * that was stored first, and `inserted` tells the caller whether it was theirs.
 */
export async function recordUsageReversal(
  sql: Sql,
  reversal: Omit<UsageReversal, 'createdAt'> & { chargeKey: string; reversalKey: string },
): Promise<{ reversal: UsageReversal; inserted: boolean }> {
  const [row] = await sql<ReversalRow[]>`
    INSERT INTO usage_reversals (user_id, event_id, charge_key, reversal_key, reason, credits,
                                 creator_share_reversed, creator_shortfall)
    VALUES (${reversal.userId}, ${reversal.eventId}, ${reversal.chargeKey}, ${reversal.reversalKey},
            ${reversal.reason}, ${reversal.reversedCredits}, ${reversal.creatorShareReversed},
            ${reversal.creatorShareShortfall})
    ON CONFLICT DO NOTHING
    RETURNING event_id, user_id, reason, credits, creator_share_reversed, creator_shortfall, created_at`;
  if (row) return { reversal: toReversal(row), inserted: true };
  const stored = await findUsageReversal(sql, reversal.userId, reversal.eventId);
  if (!stored) throw new Error(`usage reversal of ${reversal.eventId} vanished after a conflict`);
  return { reversal: stored, inserted: false };
}
