import { isValidCredits, ValidationError } from '../../domain';
import type { Sql } from '../pool';
import {
  lockAccounts,
  type SystemAccounts,
  spendableAccounts,
  totalAvailable,
  userAccount,
} from './accounts';
import { assertKey, findOperations, presentOnly, replayOrConflict, requestHash } from './idempotency';
import { post } from './post';
import { withRaceRetry } from './retry';
import type { CreditRequest, CreditResult } from './types';
import { assertAttribution, assertText, assertUuid } from './validate';

/** Longest clearing period a credit may carry (a year). */
const MAX_CLEAR_SECONDS = 366 * 24 * 3600;

/** Credits a user's bucket (default `purchased`) from a system account, exactly once per key. */
export async function credit(sql: Sql, system: SystemAccounts, req: CreditRequest): Promise<CreditResult> {
  assertKey(req.idempotencyKey);
  assertUuid('userId', req.userId);
  if (!isValidCredits(req.amount))
    throw new ValidationError('amount', 'must be a positive whole number of credits');
  assertText('kind', req.kind, 200);
  if (req.description !== undefined) assertText('description', req.description, 1000);
  assertAttribution(req);
  if (
    req.clearSeconds !== undefined &&
    (!Number.isInteger(req.clearSeconds) || req.clearSeconds < 0 || req.clearSeconds > MAX_CLEAR_SECONDS)
  ) {
    throw new ValidationError('clearSeconds', `must be a whole number from 0 to ${MAX_CLEAR_SECONDS}`);
  }
  const bucket = req.bucket ?? 'purchased';
  const hash = requestHash('credit', {
    userId: req.userId,
    amount: req.amount,
    kind: req.kind,
    from: req.from,
    bucket,
    description: req.description,
    // Attribution (agent, cause) is a record of the movement, not part of what it does: left out,
    // so a request retried across the upgrade that added it still replays.
    ...presentOnly({ clearSeconds: req.clearSeconds }),
  });
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<CreditResult>(stored, hash);
      const fromId = system.id(req.from, req.userId);
      const locked = await lockAccounts(tx, [req.userId], [fromId]);
      const target = userAccount(locked, req.userId, bucket);
      const result: CreditResult = {
        amount: req.amount,
        availableAfter: totalAvailable(spendableAccounts(locked, req.userId)) + req.amount,
      };
      await post(tx, {
        key: req.idempotencyKey,
        kind: 'credit',
        hash,
        result,
        legs: [
          {
            from: fromId,
            to: target.id,
            amount: req.amount,
            kind: req.kind,
            description: req.description ?? null,
            agentId: req.agentId ?? null,
            cause: req.cause ?? null,
            clearSeconds: req.clearSeconds ?? null,
          },
        ],
      });
      return result;
    }),
  );
}
