import { isValidCredits, ValidationError } from '../../domain';
import type { Sql, Tx } from '../pool';
import { lockAccounts, userAccount } from './accounts';
import { assertKey, findOperations, recordOperations, replayOrConflict, requestHash } from './idempotency';
import { withRaceRetry } from './retry';
import type { ReleaseWithholdingRequest, WithholdRequest, WithholdResult } from './types';
import { assertAttribution, assertUuid } from './validate';

/** A withholding's kind: lower-case words, as the table's CHECK says (027_withholdings.sql). */
const KIND = /^[a-z][a-z_]{0,39}$/;

/**
 * Withholds credits of a user's withdrawable bucket from cashing out until released, once per key: no
 * credits move (they may still be spent), but `ledger_account_withdrawable` subtracts every
 * withholding of the account, so no withdrawal can hold them. Written under the account's lock,
 * so a withdrawal's hold (which reads withdrawable under the same lock) sees it or comes first.
 */
export async function withhold(sql: Sql, req: WithholdRequest): Promise<WithholdResult> {
  assertKey(req.idempotencyKey);
  assertUuid('userId', req.userId);
  if (!isValidCredits(req.amount))
    throw new ValidationError('amount', 'must be a positive whole number of credits');
  if (!KIND.test(req.kind)) throw new ValidationError('kind', 'must be lower-case words joined by _');
  assertAttribution(req);
  const hash = requestHash('withhold', {
    userId: req.userId,
    amount: req.amount,
    kind: req.kind,
    bucket: req.bucket,
  });
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<WithholdResult>(stored, hash);
      const account = userAccount(await lockAccounts(tx, [req.userId], []), req.userId, req.bucket);
      const { withdrawable, withheld } = await withheldFrom(tx, account.id);
      if (!withdrawable) throw new ValidationError('bucket', 'must be a withdrawable bucket');
      const result: WithholdResult = { amount: req.amount, withheldTotal: withheld + req.amount };
      await recordOperations(tx, [{ key: req.idempotencyKey, kind: 'withhold', hash, result }]);
      await tx`
        INSERT INTO withholdings (operation_key, account_id, amount, kind, cause_type, cause_id)
        VALUES (${req.idempotencyKey}, ${account.id}, ${req.amount}, ${req.kind},
                ${req.cause?.type ?? null}, ${req.cause?.id ?? null})`;
      return result;
    }),
  );
}

/**
 * Releases a withholding, once (the table lets each be released once, whatever the key): what it
 * withheld may be cashed out again. Null when no withholding has that key (nothing was withheld) or it was released already.
 */
export async function releaseWithholding(
  sql: Sql,
  req: ReleaseWithholdingRequest,
): Promise<WithholdResult | null> {
  assertKey(req.idempotencyKey);
  assertKey(req.withholdingKey);
  assertAttribution(req);
  const hash = requestHash('release-withholding', { withholdingKey: req.withholdingKey });
  return withRaceRetry(() =>
    sql.begin(async (tx) => {
      const stored = (await findOperations(tx, [req.idempotencyKey])).get(req.idempotencyKey);
      if (stored) return replayOrConflict<WithholdResult>(stored, hash);
      const [original] = await tx<{ account_id: number; amount: number; kind: string }[]>`
        SELECT w.account_id, w.amount, w.kind FROM withholdings w
        WHERE w.operation_key = ${req.withholdingKey} AND w.amount > 0
          AND NOT EXISTS (SELECT 1 FROM withholdings r WHERE r.releases = w.operation_key)`;
      if (!original) return null;
      await lockAccounts(tx, [], [original.account_id]);
      const { withheld } = await withheldFrom(tx, original.account_id);
      const result: WithholdResult = { amount: -original.amount, withheldTotal: withheld - original.amount };
      await recordOperations(tx, [{ key: req.idempotencyKey, kind: 'release_withholding', hash, result }]);
      await tx`
        INSERT INTO withholdings (operation_key, account_id, amount, kind, releases, cause_type, cause_id)
        VALUES (${req.idempotencyKey}, ${original.account_id}, ${-original.amount}, ${original.kind},
                ${req.withholdingKey}, ${req.cause?.type ?? null}, ${req.cause?.id ?? null})`;
      return result;
    }),
  );
}

/** Whether the account may be cashed out of, and what is withheld from it now (read under its lock). */
async function withheldFrom(tx: Tx, accountId: number): Promise<{ withdrawable: boolean; withheld: number }> {
  const [row] = await tx<{ withdrawable: boolean; withheld: number }[]>`
    SELECT a.withdrawable, ledger_account_withheld(a.id) AS withheld FROM accounts a WHERE a.id = ${accountId}`;
  return row!;
}
