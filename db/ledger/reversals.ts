import { Conflict, NotFound } from '../../domain';
import type { Sql } from '../pool';
import { lockAccounts } from './accounts';
import { assertKey, findOperations, replayOrConflict, requestHash } from './idempotency';
import { causeOf, type Leg, post } from './post';
import { withRaceRetry } from './retry';
import type { ReverseRequest, ReverseResult } from './types';

interface TransferRow {
  debit_account_id: number;
  credit_account_id: number;
  amount: number;
  description: string | null;
  agent_id: string | null;
  cause_type: string | null;
  cause_id: string | null;
}

/**
 * Undoes an operation: every transfer it wrote is mirrored (same accounts, the other way, same
 * agent and cause) in one new operation. All or nothing: if an account cannot give back what it
 * received (credits already spent), nothing moves and this is InsufficientCredits. The database
 * lets each operation be reversed once (ledger_operations.reverses is unique), whatever the key.
 */
export async function reverse(sql: Sql, req: ReverseRequest): Promise<ReverseResult> {
  assertKey(req.idempotencyKey);
  assertKey(req.operationKey);
  const hash = requestHash('reverse', {
    operationKey: req.operationKey,
    kind: req.kind,
    description: req.description,
  });
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<ReverseResult>(stored, hash);
      const original = await tx<TransferRow[]>`
        SELECT debit_account_id, credit_account_id, amount, description, agent_id, cause_type, cause_id
        FROM transfers WHERE operation_key = ${req.operationKey} ORDER BY id`;
      if (original.length === 0) throw new NotFound(`operation ${req.operationKey} moved nothing to reverse`);
      const accountIds = original.flatMap((t) => [t.debit_account_id, t.credit_account_id]);
      await lockAccounts(tx, [], accountIds);
      // After the locks: a concurrent reversal of the same operation has committed by now.
      const [done] = await tx<{ idempotency_key: string }[]>`
        SELECT idempotency_key FROM ledger_operations WHERE reverses = ${req.operationKey}`;
      if (done)
        throw new Conflict(`operation ${req.operationKey} was already reversed by ${done.idempotency_key}`);
      const legs: Leg[] = original.map((t) => ({
        from: t.credit_account_id,
        to: t.debit_account_id,
        amount: t.amount,
        kind: req.kind,
        description: req.description ?? t.description,
        agentId: t.agent_id,
        cause: causeOf(t.cause_type, t.cause_id),
      }));
      const result: ReverseResult = {
        operationKey: req.operationKey,
        amount: original.reduce((s, t) => s + t.amount, 0),
        transfers: original.length,
      };
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
