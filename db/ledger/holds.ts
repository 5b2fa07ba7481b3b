import {
  BUCKETS,
  HoldNotPending,
  InsufficientCredits,
  InsufficientWithdrawable,
  isValidCredits,
  NotFound,
  ValidationError,
} from '../../domain';
import type { Sql, Tx } from '../pool';
import {
  type LockedAccount,
  lockAccounts,
  type SystemAccounts,
  spendableAccounts,
  splitBySpendingOrder,
  totalAvailable,
  userAccount,
} from './accounts';
import {
  assertKey,
  findOperations,
  presentOnly,
  recordOperations,
  replayOrConflict,
  requestHash,
} from './idempotency';
import { causeOf, type Leg, post } from './post';
import { withRaceRetry } from './retry';
import type {
  HoldRequest,
  HoldResult,
  PostHoldRequest,
  PostHoldResult,
  VoidHoldRequest,
  VoidHoldResult,
} from './types';
import { assertAttribution, assertShare, assertText, assertUuid } from './validate';

const MAX_HOLD_SECONDS = 30 * 24 * 3600;

interface HoldRow {
  id: string;
  user_id: string;
  credit_account_id: number;
  amount: number;
  status: string;
  kind: string;
  description: string | null;
  agent_id: string | null;
  cause_type: string | null;
  cause_id: string | null;
  expired: boolean;
}

/** Reserves credits: they stay posted but leave `available` until posted, voided or expired. */
export async function hold(sql: Sql, system: SystemAccounts, req: HoldRequest): Promise<HoldResult> {
  assertKey(req.idempotencyKey);
  assertUuid('holdId', req.holdId);
  assertUuid('userId', req.userId);
  assertText('kind', req.kind, 200);
  if (req.description !== undefined) assertText('description', req.description, 1000);
  assertAttribution(req);
  if (!isValidCredits(req.amount))
    throw new ValidationError('amount', 'must be a positive whole number of credits');
  if (
    !Number.isInteger(req.expiresInSeconds) ||
    req.expiresInSeconds < 1 ||
    req.expiresInSeconds > MAX_HOLD_SECONDS
  ) {
    throw new ValidationError('expiresInSeconds', `must be a whole number from 1 to ${MAX_HOLD_SECONDS}`);
  }
  if (req.bucket !== undefined && !BUCKETS.includes(req.bucket))
    throw new ValidationError('bucket', `must be one of ${BUCKETS.join(', ')}`);
  if (req.withdrawableOnly && req.bucket === undefined)
    throw new ValidationError('bucket', 'a hold of withdrawable credits names its bucket');
  const to = req.to ?? 'usage';
  // Attribution (agent, cause) is a record, not part of what the hold does (see credits.ts).
  const { bucket, withdrawableOnly, agentId: _agent, cause: _cause, ...rest } = req;
  const hash = requestHash('hold', {
    ...rest,
    to,
    idempotencyKey: undefined,
    ...presentOnly({ bucket, withdrawableOnly: withdrawableOnly || undefined }),
  });
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<HoldResult>(stored, hash);
      const creditId = system.id(to, req.userId);
      // Only the user's accounts: a hold moves nothing into the system account, so it need not
      // queue behind other users' movements there (its post locks it).
      let locked = await lockAccounts(tx, [req.userId], []);
      if (await expireHolds(tx, [req.userId])) locked = await lockAccounts(tx, [req.userId], []);
      const accounts = spendableAccounts(locked, req.userId, req.bucket);
      if (req.withdrawableOnly) await assertWithdrawable(tx, accounts, req.amount);
      const legs = splitBySpendingOrder(accounts, req.amount);
      if (!legs) throw new InsufficientCredits(req.amount, totalAvailable(accounts));
      const [row] = await tx<
        { expires_at: Date }[]
      >`SELECT now() + make_interval(secs => ${req.expiresInSeconds}) AS expires_at`;
      const result: HoldResult = {
        holdId: req.holdId,
        amount: req.amount,
        expiresAt: row!.expires_at.toISOString(),
      };
      await recordOperations(tx, [{ key: req.idempotencyKey, kind: 'hold', hash, result }]);
      await tx`
        INSERT INTO holds (id, operation_key, user_id, credit_account_id, amount, status, kind, description,
                           expires_at, bucket, agent_id, cause_type, cause_id)
        VALUES (${req.holdId}, ${req.idempotencyKey}, ${req.userId}, ${creditId}, ${req.amount}, 'pending',
                ${req.kind}, ${req.description ?? null}, ${result.expiresAt}, ${req.bucket ?? null},
                ${req.agentId ?? null}, ${req.cause?.type ?? null}, ${req.cause?.id ?? null})`;
      await tx`
        INSERT INTO hold_legs (hold_id, account_id, amount)
        SELECT ${req.holdId}::uuid, * FROM unnest(
          ${legs.map((l) => l.account.id)}::bigint[], ${legs.map((l) => l.amount)}::bigint[])`;
      return result;
    }),
  );
}

/** Refuses a hold above the accounts' withdrawable credits (read under their lock, taken by the caller). */
async function assertWithdrawable(tx: Tx, accounts: { id: number }[], amount: number): Promise<void> {
  const [row] = await tx<{ withdrawable: number }[]>`
    SELECT coalesce(sum(ledger_account_withdrawable(id)), 0)::bigint AS withdrawable
    FROM unnest(${accounts.map((a) => a.id)}::bigint[]) AS id`;
  if (row!.withdrawable < amount) throw new InsufficientWithdrawable(amount, row!.withdrawable);
}

/** Charges `amount` (at most the held amount) and releases the rest. */
export async function postHold(sql: Sql, req: PostHoldRequest): Promise<PostHoldResult> {
  assertKey(req.idempotencyKey);
  if (!Number.isSafeInteger(req.amount) || req.amount < 0) {
    throw new ValidationError('amount', 'must be a whole number of credits, zero or more');
  }
  if (req.share !== undefined) assertShare(req.share, req.amount);
  const hash = requestHash('post', {
    holdId: req.holdId,
    amount: req.amount,
    ...presentOnly({ share: req.share }),
  });
  const receivers = req.share ? [req.share.userId] : [];
  return resolveHold(sql, req.idempotencyKey, req.holdId, hash, receivers, async (tx, h, locked) => {
    if (req.amount > h.amount)
      throw new ValidationError('amount', `must be at most the held ${h.amount} credits`);
    const held = await holdLegsInSpendingOrder(tx, h.id);
    await tx`UPDATE holds SET status = 'posted', posted_amount = ${req.amount}, resolved_at = now() WHERE id = ${h.id}`;
    let rest = req.amount;
    const legs: Leg[] = [];
    for (const leg of held) {
      const take = Math.min(rest, leg.amount);
      rest -= take;
      legs.push({
        from: leg.account_id,
        to: h.credit_account_id,
        amount: take,
        kind: h.kind,
        description: h.description,
        agentId: h.agent_id,
        cause: causeOf(h.cause_type, h.cause_id),
        holdId: h.id,
      });
    }
    if (req.share) {
      // The receiver's share leaves the system account the charge went to, in the same operation.
      legs.push({
        from: h.credit_account_id,
        to: userAccount(locked, req.share.userId, 'earned').id,
        amount: req.share.amount,
        kind: 'creator_share',
        description: h.description,
        agentId: h.agent_id,
        cause: causeOf(h.cause_type, h.cause_id),
        clearSeconds: req.share.clearSeconds,
      });
    }
    return { result: { holdId: h.id, posted: req.amount, released: h.amount - req.amount }, legs };
  });
}

/** Releases the whole hold; nothing is charged. */
export async function voidHold(sql: Sql, req: VoidHoldRequest): Promise<VoidHoldResult> {
  assertKey(req.idempotencyKey);
  const hash = requestHash('void', { holdId: req.holdId });
  return resolveHold(sql, req.idempotencyKey, req.holdId, hash, [], async (tx, h) => {
    await tx`UPDATE holds SET status = 'voided', resolved_at = now() WHERE id = ${h.id}`;
    return { result: { holdId: h.id, released: h.amount }, legs: [] };
  });
}

async function resolveHold<T>(
  sql: Sql,
  key: string,
  holdId: string,
  hash: string,
  /** Other users the resolution pays (a share's receiver), locked with the hold's user in the global order. */
  receivers: string[],
  apply: (tx: Tx, h: HoldRow, locked: LockedAccount[]) => Promise<{ result: T; legs: Leg[] }>,
): Promise<T> {
  assertUuid('holdId', holdId);
  return withRaceRetry(
    () =>
      sql.begin(async (tx) => {
        const stored = (await findOperations(tx, [key])).get(key);
        if (stored) return replayOrConflict<T>(stored, hash);
        const [peek] = await tx<{ user_id: string; credit_account_id: number }[]>`
        SELECT user_id, credit_account_id FROM holds WHERE id = ${holdId}`;
        if (!peek) throw new NotFound(`hold ${holdId} not found`);
        const locked = await lockAccounts(tx, [peek.user_id, ...receivers], [peek.credit_account_id]);
        const [h] = await tx<HoldRow[]>`
        SELECT id, user_id, credit_account_id, amount, status, kind, description, agent_id, cause_type, cause_id,
               expires_at <= now() AS expired
        FROM holds WHERE id = ${holdId} FOR UPDATE`;
        if (h!.status !== 'pending') throw new HoldNotPending(holdId, h!.status);
        if (h!.expired) throw new HoldNotPending(holdId, 'expired');
        const { result, legs } = await apply(tx, h!, locked);
        await post(tx, { key, kind: 'hold-resolution', hash, result, legs });
        return result;
      }) as Promise<T>,
  );
}

/** A post charges the hold's legs in the accounts' spending order, and releases the rest. */
function holdLegsInSpendingOrder(tx: Tx, holdId: string) {
  return tx<{ account_id: number; amount: number }[]>`
    SELECT l.account_id, l.amount FROM hold_legs l JOIN accounts a ON a.id = l.account_id
    WHERE l.hold_id = ${holdId} ORDER BY a.spend_rank`;
}

/**
 * Marks the pending holds past their expiry as expired; the trigger releases what they held.
 * With `userIds` the caller already holds those users' account locks; without, this is the sweeper,
 * which takes the locks itself in id order, one bounded batch per transaction.
 */
export async function expireHolds(tx: Tx, userIds: string[]): Promise<number> {
  const rows = await tx`
    UPDATE holds SET status = 'expired', resolved_at = now()
    WHERE status = 'pending' AND expires_at <= now() AND user_id = ANY(${userIds}::uuid[])
    RETURNING id`;
  return rows.length;
}

export async function sweepExpiredHolds(sql: Sql, batchSize = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const released = await withRaceRetry(() =>
      sql.begin(async (tx) => {
        const due = await tx<{ user_id: string }[]>`
          SELECT DISTINCT user_id FROM (
            SELECT user_id FROM holds WHERE status = 'pending' AND expires_at <= now()
            ORDER BY expires_at LIMIT ${batchSize}) due`;
        if (due.length === 0) return 0;
        const users = due.map((d) => d.user_id);
        await lockAccounts(tx, users, []);
        return expireHolds(tx, users);
      }),
    );
    total += released;
    if (released === 0) return total;
  }
}
