import { Conflict, NotFound } from '../../domain';
import type { Sql } from '../pool';
import { available, type LockedAccount, lockAccounts } from './accounts';
import {
  assertKey,
  findOperations,
  presentOnly,
  replayOrConflict,
  requestHash,
  type StoredOperation,
} from './idempotency';
import { causeOf, type Leg, post } from './post';
import { withRaceRetry } from './retry';
import type { ReversedLeg, ReverseRequest, ReverseResult } from './types';

interface TransferRow {
  debit_account_id: number;
  credit_account_id: number;
  amount: number;
  kind: string;
  description: string | null;
  agent_id: string | null;
  cause_type: string | null;
  cause_id: string | null;
  /** Whether the account the transfer credited is withdrawable (an earned bucket). */
  credit_withdrawable: boolean;
}

/**
 * Undoes an operation: every transfer it wrote is mirrored (same accounts, the other way, same
 * agent and cause) in one new operation. All or nothing: if an account cannot give back what it
 * received (credits already spent), nothing moves and this is InsufficientCredits, unless the
 * request caps the legs out of withdrawable accounts (`capWithdrawable`): those then give back
 * what they have, under the accounts' locks, and the rest is the result's shortfall. The
 * database lets each operation be reversed once (ledger_operations.reverses is unique), whatever
 * the key; a concurrent twin with the same key gets the winner's result.
 */
export async function reverse(sql: Sql, req: ReverseRequest): Promise<ReverseResult> {
  assertKey(req.idempotencyKey);
  assertKey(req.operationKey);
  const capped = req.capWithdrawable === true;
  // The cap is part of the request only when asked for: reversals recorded before it hash as they did.
  const hash = requestHash(
    'reverse',
    presentOnly({
      operationKey: req.operationKey,
      kind: req.kind,
      description: req.description ?? null,
      capWithdrawable: capped ? true : undefined,
    }),
  );
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<ReverseResult>(stored, hash);
      const original = await tx<TransferRow[]>`
        SELECT t.debit_account_id, t.credit_account_id, t.amount, t.kind, t.description, t.agent_id,
               t.cause_type, t.cause_id, c.withdrawable AS credit_withdrawable
        FROM transfers t JOIN accounts c ON c.id = t.credit_account_id
        WHERE t.operation_key = ${req.operationKey} ORDER BY t.id`;
      if (original.length === 0) throw new NotFound(`operation ${req.operationKey} moved nothing to reverse`);
      const accountIds = original.flatMap((t) => [t.debit_account_id, t.credit_account_id]);
      const locked = await lockAccounts(tx, [], accountIds);
      // After the locks: a concurrent reversal of the same operation has committed by now.
      const [done] = await tx<StoredOperation[]>`
        SELECT idempotency_key, request_hash, result FROM ledger_operations WHERE reverses = ${req.operationKey}`;
      if (done?.idempotency_key === req.idempotencyKey) return replayOrConflict<ReverseResult>(done, hash);
      if (done)
        throw new Conflict(`operation ${req.operationKey} was already reversed by ${done.idempotency_key}`);
      const { amounts, shortfall } = capped
        ? cappedAmounts(original, locked)
        : { amounts: original.map((t) => t.amount), shortfall: 0 };
      const legs: Leg[] = original.map((t, i) => ({
        from: t.credit_account_id,
        to: t.debit_account_id,
        amount: amounts[i]!,
        kind: req.kind,
        description: req.description ?? t.description,
        agentId: t.agent_id,
        cause: causeOf(t.cause_type, t.cause_id),
      }));
      const result: ReverseResult = {
        operationKey: req.operationKey,
        amount: amounts.reduce((s, a) => s + a, 0),
        transfers: amounts.filter((a) => a > 0).length,
      };
      if (capped) {
        const owner = new Map(locked.map((a) => [a.id, a.user_id]));
        result.shortfall = shortfall;
        result.legs = original.map(
          (t, i): ReversedLeg => ({
            kind: t.kind,
            amount: t.amount,
            reversed: amounts[i]!,
            fromUserId: owner.get(t.credit_account_id) ?? null,
            toUserId: owner.get(t.debit_account_id) ?? null,
          }),
        );
      }
      // Legs of 0 (nothing left to take back) are not written; the operation is still recorded
      // as this reversal, so it stays reversed once.
      await post(tx, {
        key: req.idempotencyKey,
        kind: 'reversal',
        hash,
        result,
        legs,
        reverses: req.operationKey,
      });
      return result;
    }),
  );
}

/**
 * What each mirror may move when legs out of withdrawable accounts are capped: at most what the
 * locked account has available, spent in the original's order when several legs leave one
 * account. What a capped leg cannot take back never returns to the system account it came from
 * (a creator's share goes back to the account the charge paid), so the mirrors out of that
 * account (the payer's refund) withhold it, last leg first: a reversal never pays out more than
 * it takes back. Otherwise a creator who spent a share on another creator's agent, and a payer
 * who then reversed the charge in full, would leave that second share standing on credits nobody
 * paid for, withdrawable as cash (a loop of three accounts). Other legs move in full (system
 * accounts may go negative; an all-or-nothing refusal from any other account is still the
 * database's). `shortfall`: what the capped legs could not take back.
 */
function cappedAmounts(
  original: TransferRow[],
  locked: LockedAccount[],
): { amounts: number[]; shortfall: number } {
  const left = new Map(locked.map((a) => [a.id, available(a)]));
  // Per system account: what the capped mirrors should have paid back into it and did not.
  const notReturned = new Map<number, number>();
  let shortfall = 0;
  const amounts = original.map((t) => {
    if (!t.credit_withdrawable) return t.amount;
    const has = Math.max(0, left.get(t.credit_account_id) ?? 0);
    const take = Math.min(t.amount, has);
    left.set(t.credit_account_id, has - take);
    if (take < t.amount) {
      shortfall += t.amount - take;
      notReturned.set(t.debit_account_id, (notReturned.get(t.debit_account_id) ?? 0) + t.amount - take);
    }
    return take;
  });
  for (let i = original.length - 1; i >= 0; i--) {
    const t = original[i]!;
    const owed = notReturned.get(t.credit_account_id) ?? 0;
    if (owed === 0 || t.credit_withdrawable) continue;
    const withheld = Math.min(owed, amounts[i]!);
    amounts[i] = amounts[i]! - withheld;
    notReturned.set(t.credit_account_id, owed - withheld);
  }
  return { amounts, shortfall };
}
