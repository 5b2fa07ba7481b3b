import {
  IdempotencyConflict,
  InsufficientCredits,
  isValidCredits,
  NotFound,
  ValidationError,
} from '../../domain';
import type { Sql } from '../pool';
import type { SystemAccounts } from './accounts';
import { assertKey, replayOrConflict, requestHash } from './idempotency';
import { withRaceRetry } from './retry';
import type { DebitRequest, DebitResult } from './types';
import { assertAttribution, assertShare, assertStorableJson, assertText, assertUuid } from './validate';

export type Settled<T> = { ok: true; value: T } | { ok: false; error: Error };

/**
 * Everything a debit stores is checked here, before it joins a batch: a request Postgres would
 * refuse fails its whole batch (see the batcher's isolation for whatever still gets through).
 */
export function validateDebit(req: DebitRequest): void {
  assertKey(req.idempotencyKey);
  assertUuid('userId', req.userId);
  if (!isValidCredits(req.amount))
    throw new ValidationError('amount', 'must be a positive whole number of credits');
  assertText('kind', req.kind, 200);
  if (req.description !== undefined) assertText('description', req.description, 1000);
  assertAttribution(req);
  if (req.memo !== undefined) assertStorableJson('memo', JSON.stringify(req.memo));
  if (req.share !== undefined) assertShare(req.share, req.amount);
}

export function debitHash(req: DebitRequest): string {
  if (req.fingerprint !== undefined)
    return requestHash('debit-fingerprint', { fingerprint: req.fingerprint });
  return requestHash('debit', {
    userId: req.userId,
    amount: req.amount,
    kind: req.kind,
    to: req.to ?? 'usage',
    description: req.description,
  });
}

/**
 * Applies many debits in ONE statement and so one transaction (group commit): the SQL function
 * `ledger_debit_batch` (db/functions/ledger_debit_batch.sql) locks every account involved in one fixed order, applies
 * the debits in arrival order and writes all operations and transfers with one INSERT each.
 * Each request still succeeds or fails on its own: the ones the balance cannot cover get
 * InsufficientCredits and move nothing.
 */
export async function debitMany(
  sql: Sql,
  system: SystemAccounts,
  requests: DebitRequest[],
  /** Credit the system side on this key's shard (a batcher's), else on each user's own. */
  shardKey?: string,
): Promise<Settled<DebitResult>[]> {
  const hashes = requests.map(debitHash);
  const memos = requests.map((req) => (req.memo ? JSON.stringify(req.memo) : null));
  // Twins (the same key twice in one batch) are sent once and answered from the first.
  const first = new Map<string, number>();
  requests.forEach((req, i) => {
    if (!first.has(req.idempotencyKey)) first.set(req.idempotencyKey, i);
  });
  const unique = [...first.values()];
  const rows = await withRaceRetry(
    () =>
      sql<BatchRow[]>`
      SELECT out_key, out_outcome, out_hash, out_result, out_available, out_legs
      FROM ledger_debit_batch(
        ${unique.map((i) => requests[i]!.idempotencyKey)}::text[],
        ${unique.map((i) => hashes[i]!)}::text[],
        ${unique.map((i) => requests[i]!.userId)}::uuid[],
        ${unique.map((i) => requests[i]!.amount)}::bigint[],
        ${unique.map((i) => system.id(requests[i]!.to ?? 'usage', shardKey ?? requests[i]!.userId))}::bigint[],
        ${unique.map((i) => requests[i]!.kind)}::text[],
        ${unique.map((i) => requests[i]!.description ?? null)}::text[],
        ${unique.map((i) => memos[i] ?? null)}::text[],
        ${unique.map((i) => requests[i]!.agentId ?? null)}::text[],
        ${unique.map((i) => requests[i]!.cause?.type ?? null)}::text[],
        ${unique.map((i) => requests[i]!.cause?.id ?? null)}::text[],
        ${unique.map((i) => requests[i]!.share?.userId ?? null)}::uuid[],
        ${unique.map((i) => requests[i]!.share?.amount ?? null)}::bigint[],
        ${unique.map((i) => requests[i]!.share?.clearSeconds ?? null)}::int[])`,
  );
  const byKey = new Map(rows.map((row) => [row.out_key, row]));
  return requests.map((req, i) => {
    const row = byKey.get(req.idempotencyKey);
    if (!row) return { ok: false, error: new Error(`ledger: no outcome for ${req.idempotencyKey}`) };
    // The key's first request is what the row answers (a twin replays it); its own hash decides
    // replay or conflict against a stored record.
    const firstIndex = first.get(req.idempotencyKey)!;
    const own = settleRow(requests[firstIndex]!, memos[firstIndex] ?? null, hashes[i]!, row);
    if (firstIndex === i) return own;
    // A twin: the same request replays the first one's outcome; another request conflicts.
    if (hashes[i] !== hashes[firstIndex])
      return { ok: false, error: new IdempotencyConflict(req.idempotencyKey) };
    return own.ok ? { ok: true, value: { ...own.value, replayed: true } } : own;
  });
}

/** One answer of `ledger_debit_batch`. */
interface BatchRow {
  out_key: string;
  out_outcome: 'ok' | 'stored' | 'insufficient' | 'missing';
  /** 'stored': the stored request hash and result. */
  out_hash: string | null;
  out_result: unknown;
  /** 'ok': available after the debit; 'insufficient': available now. */
  out_available: number | null;
  /** 'ok': the JSON text of what each bucket gave, in spending order, as stored. */
  out_legs: string | null;
}

/**
 * A new debit's result, as the function stored it for replays: the function answers only with
 * what the caller does not have (converting the whole stored JSON back cost both sides).
 * The memo and legs are read back from the text that was stored, so the answer and a replay are
 * the same data.
 */
function newDebitResult(req: DebitRequest, memo: string | null, row: BatchRow): DebitResult {
  return {
    amount: req.amount,
    availableAfter: row.out_available!,
    legs: JSON.parse(row.out_legs!) as DebitResult['legs'],
    ...(memo !== null ? { memo: JSON.parse(memo) as Record<string, unknown> } : {}),
  };
}

function settleRow(
  req: DebitRequest,
  memo: string | null,
  hash: string,
  row: BatchRow,
): Settled<DebitResult> {
  switch (row.out_outcome) {
    case 'ok':
      return { ok: true, value: newDebitResult(req, memo, row) };
    case 'stored':
      return settle(() => ({
        ...replayOrConflict<DebitResult>(
          { idempotency_key: row.out_key, request_hash: row.out_hash!, result: row.out_result },
          hash,
        ),
        replayed: true,
      }));
    case 'insufficient':
      return {
        ok: false,
        error: new InsufficientCredits(req.amount, row.out_available!),
      };
    case 'missing':
      return { ok: false, error: new NotFound(`user ${req.userId} not found`) };
  }
}

function settle<T>(fn: () => T): Settled<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}
