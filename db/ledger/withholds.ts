import { isValidCredits, ValidationError } from '../../domain';
import type { Sql } from '../pool';
import { lockAccounts, userAccount } from './accounts';
import { assertKey, findOperations, recordOperations, replayOrConflict, requestHash } from './idempotency';
import { withRaceRetry } from './retry';
import type { WithholdRequest, WithholdResult } from './types';
import { assertAttribution, assertUuid } from './validate';

/** A withholding's kind: lower-case words, as the table's CHECK says (027_withholdings.sql). */
const KIND = /^[a-z][a-z_]{0,39}$/;

/**
 * Withholds credits of a user's withdrawable bucket from cashing out, for good, once per key: no
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
      const [row] = await tx<{ withdrawable: boolean; withheld: number }[]>`
        SELECT a.withdrawable,
               (SELECT coalesce(sum(w.amount), 0)::bigint FROM withholdings w WHERE w.account_id = a.id) AS withheld
        FROM accounts a WHERE a.id = ${account.id}`;
      if (!row!.withdrawable) throw new ValidationError('bucket', 'must be a withdrawable bucket');
      const result: WithholdResult = { amount: req.amount, withheldTotal: row!.withheld + req.amount };
      await recordOperations(tx, [{ key: req.idempotencyKey, kind: 'withhold', hash, result }]);
      await tx`
        INSERT INTO withholdings (operation_key, account_id, amount, kind, cause_type, cause_id)
        VALUES (${req.idempotencyKey}, ${account.id}, ${req.amount}, ${req.kind},
                ${req.cause?.type ?? null}, ${req.cause?.id ?? null})`;
      return result;
    }),
  );
}
