import { type CauseType, InsufficientCredits } from '../../domain';
import type { Tx } from '../pool';
import { recordOperations } from './idempotency';
import type { Cause } from './types';

/** One leg of an operation: `amount` leaves account `from` and reaches account `to`. */
export interface Leg {
  from: number;
  to: number;
  amount: number;
  kind: string;
  description: string | null;
  agentId?: string | null;
  cause?: Cause | null;
  /** Credits into a withdrawable account clear after this many seconds (absent: at once). */
  clearSeconds?: number | null;
  holdId?: string | null;
}

/** An idempotent operation: its record (what a replay returns) and its legs, applied together. */
export interface Posting {
  key: string;
  kind: string;
  hash: string;
  result: unknown;
  legs: Leg[];
  /** The operation this one reverses; the database lets each be reversed once. */
  reverses?: string;
}

/**
 * The posting primitive on the TypeScript side: records the operation, then writes all its legs
 * through `ledger_post_legs` (db/functions/ledger_post_legs.sql), inside the caller's
 * transaction. If any leg would break an account's rule the database refuses the statement, and
 * the transaction, so nothing of the operation moves: that refusal is InsufficientCredits.
 */
export async function post(tx: Tx, posting: Posting): Promise<void> {
  await recordOperations(tx, [
    {
      key: posting.key,
      kind: posting.kind,
      hash: posting.hash,
      result: posting.result,
      reverses: posting.reverses,
    },
  ]);
  await postLegs(
    tx,
    posting.key,
    posting.legs.filter((l) => l.amount > 0),
  );
}

async function postLegs(tx: Tx, key: string, legs: Leg[]): Promise<void> {
  if (legs.length === 0) return;
  try {
    await tx`
      SELECT ledger_post_legs(
        ${legs.map(() => key)}::text[],
        ${legs.map((l) => l.from)}::bigint[],
        ${legs.map((l) => l.to)}::bigint[],
        ${legs.map((l) => l.amount)}::bigint[],
        ${legs.map((l) => l.kind)}::text[],
        ${legs.map((l) => l.description)}::text[],
        ${legs.map((l) => l.agentId ?? null)}::text[],
        ${legs.map((l) => l.cause?.type ?? null)}::text[],
        ${legs.map((l) => l.cause?.id ?? null)}::text[],
        ${legs.map((l) => l.clearSeconds ?? null)}::int[],
        ${legs.map((l) => l.holdId ?? null)}::uuid[])`;
  } catch (error) {
    if (isBalanceRuleViolation(error)) {
      throw new InsufficientCredits(
        legs.reduce((s, l) => s + l.amount, 0),
        0,
        'this operation',
      );
    }
    throw error;
  }
}

/** The accounts' CHECK refused a leg: an account would have gone below zero. */
function isBalanceRuleViolation(error: unknown): boolean {
  const e = error as { code?: unknown; constraint_name?: unknown } | null;
  return e?.code === '23514' && e.constraint_name === 'accounts_available_not_negative';
}

/** A cause as stored on a row (both columns or neither: a CHECK says so). */
export function causeOf(type: string | null, id: string | null): Cause | null {
  return type !== null && id !== null ? { type: type as CauseType, id } : null;
}
