import { isValidCredits, ValidationError } from '../../domain';
import type { Sql } from '../pool';
import { lockAccounts, type SystemAccounts, userAccount } from './accounts';
import { assertKey, findOperations, replayOrConflict, requestHash } from './idempotency';
import { type Leg, post } from './post';
import { withRaceRetry } from './retry';
import type { AccountRef, PostRequest, PostResult } from './types';

/** Most legs one operation may have. */
const MAX_LEGS = 64;

/**
 * The generic operation (pgledger's create_transfers, TigerBeetle's linked transfers): any
 * number of legs between users' buckets and system accounts, under one idempotency key, all or
 * nothing. Debits, holds and credits have their own callers for their checks and answers; this
 * one is for movements with several parties (a charge and its creator's share, a clawback).
 */
export async function postOperation(sql: Sql, system: SystemAccounts, req: PostRequest): Promise<PostResult> {
  assertKey(req.idempotencyKey);
  if (req.legs.length < 1 || req.legs.length > MAX_LEGS)
    throw new ValidationError('legs', `must have 1 to ${MAX_LEGS} legs`);
  req.legs.forEach((leg, i) => {
    if (!isValidCredits(leg.amount))
      throw new ValidationError(`legs[${i}].amount`, 'must be a positive whole number of credits');
  });
  const hash = requestHash('post', { ...req, idempotencyKey: undefined });
  const refs = req.legs.flatMap((l) => [l.from, l.to]);
  const users = [...new Set(refs.flatMap((ref) => ('userId' in ref ? [ref.userId] : [])))];
  // System accounts use the shard of the operation's first user (shard 0 without one).
  const systemIds = refs.flatMap((ref) => ('system' in ref ? [system.id(ref.system, users[0])] : []));
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<PostResult>(stored, hash);
      const locked = await lockAccounts(tx, users, systemIds);
      const idOf = (ref: AccountRef) =>
        'system' in ref ? system.id(ref.system, users[0]) : userAccount(locked, ref.userId, ref.bucket).id;
      const legs: Leg[] = req.legs.map((l) => ({
        from: idOf(l.from),
        to: idOf(l.to),
        amount: l.amount,
        kind: req.kind,
        description: req.description ?? null,
        agentId: req.agentId ?? null,
        cause: req.cause ?? null,
        clearSeconds: l.clearSeconds ?? null,
      }));
      if (legs.some((l) => l.from === l.to))
        throw new ValidationError('legs', 'a leg must join two accounts');
      const result: PostResult = { amount: legs.reduce((s, l) => s + l.amount, 0), legs: legs.length };
      await post(tx, { key: req.idempotencyKey, kind: 'post', hash, result, legs });
      return result;
    }),
  );
}
