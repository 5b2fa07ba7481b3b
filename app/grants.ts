import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { findUserById } from '../db/users';
import { type Bucket, NotFound } from '../domain';
import type { BalanceEvents } from './balance-events';

export interface GrantDeps {
  sql: Sql;
  ledger: Ledger;
  balanceEvents: BalanceEvents;
}

export interface Grant {
  userId: string;
  credits: number;
  bucket: Bucket;
  reason?: string | undefined;
  /** The operator's idempotency key: the same key grants once. */
  key: string;
}

/** An operator grant: credits from the grants account, then the top-up that wakes paused projects. */
export async function grantCredits(
  deps: GrantDeps,
  grant: Grant,
): Promise<{ credited: number; availableAfter: number }> {
  if (!(await findUserById(deps.sql, grant.userId))) throw new NotFound(`userId: no user ${grant.userId}`);
  const result = await deps.ledger.credit({
    idempotencyKey: `grant:${grant.key}`,
    userId: grant.userId,
    amount: grant.credits,
    bucket: grant.bucket,
    from: 'grants',
    kind: 'grant',
    description: grant.reason ?? 'operator grant',
    cause: { type: 'grant', id: grant.key },
  });
  await deps.balanceEvents.credited({ userId: grant.userId, reason: 'grant' });
  return { credited: result.amount, availableAfter: result.availableAfter };
}
