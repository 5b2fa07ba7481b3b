import { type Balance, BUCKETS, type Bucket } from '../../domain';
import type { Sql } from '../pool';
import type { TransferView } from './types';

export interface BucketBalance extends Balance {
  /** Cleared credits not yet spent or held: what may be cashed out (0 for other buckets). */
  withdrawable: number;
}

/**
 * The user's balance, per bucket and in total. Withdrawable is a query, not bookkeeping
 * (db/functions/ledger_account_withdrawable.sql).
 */
export async function getBalance(
  sql: Sql,
  userId: string,
): Promise<Balance & { withdrawable: number; byBucket: Record<Bucket, BucketBalance> }> {
  const rows = await sql<{ bucket: Bucket; posted: number; held: number; withdrawable: number }[]>`
    SELECT a.bucket, a.posted, a.held, ledger_account_withdrawable(a.id) AS withdrawable
    FROM accounts a WHERE a.user_id = ${userId}`;
  const byBucket = Object.fromEntries(BUCKETS.map((b) => [b, zero()])) as Record<Bucket, BucketBalance>;
  for (const r of rows) {
    byBucket[r.bucket] = {
      posted: r.posted,
      held: r.held,
      available: r.posted - r.held,
      withdrawable: r.withdrawable,
    };
  }
  const all = Object.values(byBucket);
  const posted = all.reduce((s, b) => s + b.posted, 0);
  const held = all.reduce((s, b) => s + b.held, 0);
  const withdrawable = all.reduce((s, b) => s + b.withdrawable, 0);
  return { available: posted - held, posted, held, withdrawable, byBucket };
}

function zero(): BucketBalance {
  return { available: 0, posted: 0, held: 0, withdrawable: 0 };
}

/** The user's transfers, newest first; the cursor is the last id seen (exclusive). */
export async function listTransfers(
  sql: Sql,
  userId: string,
  options: { limit: number; before?: number },
): Promise<{ data: TransferView[]; nextCursor: string | null }> {
  const before = options.before ?? Number.MAX_SAFE_INTEGER;
  const rows = await sql<
    {
      id: number;
      amount: number;
      bucket: Bucket;
      kind: string;
      description: string | null;
      created_at: Date;
    }[]
  >`
    WITH mine AS (SELECT id, bucket FROM accounts WHERE user_id = ${userId})
    SELECT * FROM (
      SELECT t.id, -t.amount AS amount, m.bucket, t.kind, t.description, t.created_at
      FROM transfers t JOIN mine m ON t.debit_account_id = m.id WHERE t.id < ${before}
      UNION ALL
      SELECT t.id, t.amount, m.bucket, t.kind, t.description, t.created_at
      FROM transfers t JOIN mine m ON t.credit_account_id = m.id WHERE t.id < ${before}
    ) x ORDER BY id DESC LIMIT ${options.limit + 1}`;
  const page = rows.slice(0, options.limit);
  const data = page.map((r) => ({
    id: r.id,
    amount: r.amount,
    bucket: r.bucket,
    kind: r.kind,
    description: r.description,
    createdAt: r.created_at.toISOString(),
  }));
  const last = page[page.length - 1];
  return { data, nextCursor: rows.length > options.limit && last ? String(last.id) : null };
}

export interface ConservationReport {
  sumPosted: number;
  /** Accounts whose `posted` differs from the sum of their transfers. */
  postedMismatches: { id: number; posted: number; fromTransfers: number }[];
  /** Accounts whose `held` differs from the sum of their pending hold legs. */
  heldMismatches: { id: number; held: number; fromHolds: number }[];
  /** Accounts whose rules forbid a negative balance and that have one anyway. */
  negativeUserAccounts: number;
}

/** The promises of DESIGN.md §10, checked from first principles over the whole ledger. */
export async function checkConservation(sql: Sql): Promise<ConservationReport> {
  const [sum] = await sql<{ s: number }[]>`SELECT coalesce(sum(posted), 0)::bigint AS s FROM accounts`;
  const postedMismatches = await sql<{ id: number; posted: number; fromTransfers: number }[]>`
    SELECT a.id, a.posted, coalesce(c.s, 0) - coalesce(d.s, 0) AS "fromTransfers"
    FROM accounts a
    LEFT JOIN (SELECT credit_account_id AS id, sum(amount)::bigint AS s FROM transfers GROUP BY 1) c ON c.id = a.id
    LEFT JOIN (SELECT debit_account_id AS id, sum(amount)::bigint AS s FROM transfers GROUP BY 1) d ON d.id = a.id
    WHERE a.posted <> coalesce(c.s, 0) - coalesce(d.s, 0)`;
  const heldMismatches = await sql<{ id: number; held: number; fromHolds: number }[]>`
    SELECT a.id, a.held, coalesce(h.s, 0)::bigint AS "fromHolds"
    FROM accounts a
    LEFT JOIN (
      SELECT l.account_id AS id, sum(l.amount)::bigint AS s
      FROM hold_legs l JOIN holds h ON h.id = l.hold_id WHERE h.status = 'pending' GROUP BY 1
    ) h ON h.id = a.id
    WHERE a.held <> coalesce(h.s, 0)`;
  const [neg] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM accounts WHERE NOT allow_negative AND posted - held < 0`;
  return { sumPosted: sum!.s, postedMismatches, heldMismatches, negativeUserAccounts: neg!.n };
}

/** Of these holds, the ones still pending. */
export async function pendingHoldIds(sql: Sql, holdIds: string[]): Promise<string[]> {
  if (holdIds.length === 0) return [];
  const rows = await sql<{ id: string }[]>`
    SELECT id FROM holds WHERE id = ANY(${holdIds}::uuid[]) AND status = 'pending'`;
  return rows.map((r) => r.id);
}
