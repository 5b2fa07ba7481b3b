import { isValidCredits, ValidationError } from '../../domain';
import type { Sql } from '../pool';
import { available, lockAccounts, type SystemAccounts, userBuckets } from './accounts';
import { assertKey, findOperations, recordOperations, replayOrConflict, requestHash } from './idempotency';
import { withRaceRetry } from './retry';
import { insertTransfers } from './transfers';
import type { CreditRequest, CreditResult } from './types';

/** Credits a user's bucket (default `purchased`) from a system account, exactly once per key. */
export async function credit(sql: Sql, system: SystemAccounts, req: CreditRequest): Promise<CreditResult> {
  assertKey(req.idempotencyKey);
  if (!isValidCredits(req.amount))
    throw new ValidationError('amount', 'must be a positive whole number of credits');
  const bucket = req.bucket ?? 'purchased';
  const hash = requestHash('credit', {
    userId: req.userId,
    amount: req.amount,
    kind: req.kind,
    from: req.from,
    bucket,
    description: req.description,
  });
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<CreditResult>(stored, hash);
      const fromId = system.id(req.from);
      const buckets = userBuckets(await lockAccounts(tx, [req.userId], [fromId]), req.userId);
      const target = buckets.find((a) => a.bucket === bucket)!;
      const result: CreditResult = {
        amount: req.amount,
        availableAfter: buckets.reduce((s, a) => s + available(a), 0) + req.amount,
      };
      await recordOperations(tx, [{ key: req.idempotencyKey, kind: 'credit', hash, result }]);
      await insertTransfers(tx, [
        {
          operationKey: req.idempotencyKey,
          debitAccountId: fromId,
          creditAccountId: target.id,
          amount: req.amount,
          kind: req.kind,
          description: req.description ?? null,
        },
      ]);
      return result;
    }),
  );
}
