import { IdempotencyConflict, InsufficientCredits, isValidCredits, ValidationError } from '../../domain';
import type { Sql, Tx } from '../pool';
import {
  available,
  lockAccounts,
  lockSystemAccounts,
  type SystemAccounts,
  splitBySpendingOrder,
  userBuckets,
} from './accounts';
import { expireHolds } from './holds';
import { assertKey, findOperations, recordOperations, replayOrConflict, requestHash } from './idempotency';
import { withRaceRetry } from './retry';
import { insertTransfers, type NewTransfer } from './transfers';
import type { DebitRequest, DebitResult } from './types';

export type Settled<T> = { ok: true; value: T } | { ok: false; error: Error };

export function validateDebit(req: DebitRequest): void {
  assertKey(req.idempotencyKey);
  if (!isValidCredits(req.amount))
    throw new ValidationError('amount', 'must be a positive whole number of credits');
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
 * Applies many debits in ONE transaction (group commit): one lock statement for every account
 * involved (in id order), one INSERT for the operations, one INSERT for the transfers, whose
 * trigger updates each account once with the summed amount. Each request still succeeds or
 * fails on its own: the ones the balance cannot cover get InsufficientCredits and move nothing.
 */
export async function debitMany(
  sql: Sql,
  system: SystemAccounts,
  requests: DebitRequest[],
): Promise<Settled<DebitResult>[]> {
  return withRaceRetry(() => sql.begin((tx) => debitManyInTx(tx, system, requests)));
}

async function debitManyInTx(
  tx: Tx,
  system: SystemAccounts,
  requests: DebitRequest[],
): Promise<Settled<DebitResult>[]> {
  const settled: (Settled<DebitResult> | undefined)[] = new Array(requests.length);
  const hashes = requests.map(debitHash);
  // Pipelined: the idempotency lookup and the user locks travel in one round trip.
  const userIds = [...new Set(requests.map((r) => r.userId))];
  const [stored, lockedUsers] = await Promise.all([
    findOperations(
      tx,
      requests.map((r) => r.idempotencyKey),
    ),
    lockAccounts(tx, userIds, []),
  ]);
  const firstInBatch = new Map<string, number>();
  const fresh: number[] = [];
  requests.forEach((req, i) => {
    const previous = stored.get(req.idempotencyKey);
    if (previous) {
      settled[i] = settle(() => ({ ...replayOrConflict<DebitResult>(previous, hashes[i]!), replayed: true }));
    } else if (firstInBatch.has(req.idempotencyKey)) {
      fresh.push(i); // a twin inside this batch: resolved after its first occurrence below
    } else {
      firstInBatch.set(req.idempotencyKey, i);
      fresh.push(i);
    }
  });

  const systemIds = [...new Set(fresh.map((i) => system.id(requests[i]!.to ?? 'usage')))];
  let locked = lockedUsers;
  // Expired holds must not keep credits from a debit: release them first (the accounts are locked).
  const usersWithHolds = [...new Set(locked.filter((a) => a.held > 0).map((a) => a.user_id!))];
  if (usersWithHolds.length && (await expireHolds(tx, usersWithHolds))) {
    locked = await lockAccounts(tx, userIds, []);
  }

  const transfers: NewTransfer[] = [];
  const ops: { key: string; kind: string; hash: string; result: DebitResult }[] = [];
  for (const i of fresh) {
    const req = requests[i]!;
    const first = firstInBatch.get(req.idempotencyKey)!;
    if (first !== i) {
      const original = settled[first]!;
      settled[i] =
        hashes[i] !== hashes[first]
          ? { ok: false, error: new IdempotencyConflict(req.idempotencyKey) }
          : original.ok
            ? { ok: true, value: { ...original.value, replayed: true } }
            : original;
      continue;
    }
    settled[i] = settle(() => {
      const buckets = userBuckets(locked, req.userId);
      const legs = splitBySpendingOrder(buckets, req.amount);
      if (!legs) {
        throw new InsufficientCredits(
          req.amount,
          buckets.reduce((s, a) => s + available(a), 0),
        );
      }
      for (const leg of legs) {
        leg.account.posted -= leg.amount; // the local view, so later requests in the batch see it
        transfers.push({
          operationKey: req.idempotencyKey,
          debitAccountId: leg.account.id,
          creditAccountId: system.id(req.to ?? 'usage'),
          amount: leg.amount,
          kind: req.kind,
          description: req.description ?? null,
        });
      }
      const result: DebitResult = {
        amount: req.amount,
        availableAfter: buckets.reduce((s, a) => s + available(a), 0),
        legs: legs.map((l) => ({ bucket: l.account.bucket!, amount: l.amount })),
        ...(req.memo ? { memo: req.memo } : {}),
      };
      ops.push({ key: req.idempotencyKey, kind: 'debit', hash: hashes[i]!, result });
      return result;
    });
  }
  if (ops.length > 0) {
    // Pipelined, and executed in this order: operations, system-account locks, transfers.
    await Promise.all([
      recordOperations(tx, ops),
      lockSystemAccounts(tx, systemIds),
      insertTransfers(tx, transfers),
    ]);
  }
  return settled as Settled<DebitResult>[];
}

function settle<T>(fn: () => T): Settled<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}
