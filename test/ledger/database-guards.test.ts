import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger(2));
});
afterAll(() => closeTestLedger({ sql, ledger }));

/**
 * A transfer written straight into the table, as buggy code outside the ledger might: from the
 * user's purchased bucket to `creditAccountId` (default system:usage), under operation `key`,
 * which is recorded first unless `withOperation` is false.
 */
function rawTransfer(
  userId: string,
  t: { key: string; amount: number; creditAccountId?: number; withOperation?: boolean },
) {
  return sql.begin(async (tx) => {
    if (t.withOperation !== false)
      await tx`INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result) VALUES (${t.key}, 'raw', 'x', '{}')`;
    await tx`
      INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind)
      SELECT ${t.key}, a.id,
             coalesce(${t.creditAccountId ?? null}::bigint, (SELECT id FROM accounts WHERE code = 'system:usage')),
             ${t.amount}, 'raw'
      FROM accounts a WHERE a.user_id = ${userId} AND a.bucket = 'purchased'`;
  });
}

/** The database itself refuses what would break the ledger, whoever the caller is. */
describe('when code outside the ledger module tries to change money state directly', () => {
  test('then a direct balance update is refused', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(sql`UPDATE accounts SET posted = posted + 1000 WHERE user_id = ${user.id}`).rejects.toThrow(
      /balances change only through transfers/,
    );
    await expect(sql`UPDATE accounts SET held = held + 1 WHERE user_id = ${user.id}`).rejects.toThrow(
      /balances change only through transfers/,
    );
    // From inside a function too: only the ledger's own triggers may move a balance.
    await expect(
      sql`DO $$ BEGIN UPDATE accounts SET posted = posted + 1 WHERE code = 'system:usage'; END $$`,
    ).rejects.toThrow(/balances change only through transfers/);
    expect((await ledger.balance(user.id)).available).toBe(10);
  });

  test('then transfers cannot be updated, deleted or truncated', async () => {
    await fundedUser(sql, ledger, 10);
    await expect(sql`UPDATE transfers SET amount = amount + 1`).rejects.toThrow(/immutable/);
    await expect(sql`DELETE FROM transfers`).rejects.toThrow(/immutable/);
    await expect(sql`TRUNCATE transfers CASCADE`).rejects.toThrow(/immutable/);
  });

  test('then withholdings cannot be updated, deleted or truncated, nor name an operation that does not exist', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await ledger.withhold({
      idempotencyKey: `guard-withhold:${user.id}`,
      userId: user.id,
      amount: 5,
      kind: 'referral_shortfall',
      bucket: 'earned',
    });
    await expect(sql`UPDATE withholdings SET amount = amount + 1`).rejects.toThrow(/immutable/);
    await expect(sql`DELETE FROM withholdings`).rejects.toThrow(/immutable/);
    await expect(sql`TRUNCATE withholdings CASCADE`).rejects.toThrow(/immutable/);
    await expect(
      sql`INSERT INTO withholdings (operation_key, account_id, amount, kind)
          SELECT 'no-such-operation', id, 1, 'referral_shortfall' FROM accounts WHERE user_id = ${user.id} LIMIT 1`,
    ).rejects.toThrow(/foreign key/);
    // A release names the withholding it gives back, once, with its amount negated.
    expect(
      await ledger.releaseWithholding({
        idempotencyKey: `guard-release:${user.id}`,
        withholdingKey: `guard-withhold:${user.id}`,
      }),
    ).toMatchObject({ amount: -5, withheldTotal: 0 });
    expect(
      await ledger.releaseWithholding({
        idempotencyKey: `guard-release-2:${user.id}`,
        withholdingKey: `guard-withhold:${user.id}`,
      }),
    ).toBeNull();
    await expect(
      sql`INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result)
          VALUES (${`guard-raw-release:${user.id}`}, 'release_withholding', 'h', '{}')`,
    ).resolves.toBeDefined();
    await expect(
      sql`INSERT INTO withholdings (operation_key, account_id, amount, kind, releases)
          SELECT ${`guard-raw-release:${user.id}`}, account_id, -5, kind, operation_key
          FROM withholdings WHERE operation_key = ${`guard-withhold:${user.id}`}`,
    ).rejects.toThrow(/unique/);
    await expect(
      sql`INSERT INTO withholdings (operation_key, account_id, amount, kind)
          SELECT ${`guard-raw-release:${user.id}`}, account_id, -5, kind
          FROM withholdings WHERE operation_key = ${`guard-withhold:${user.id}`}`,
    ).rejects.toThrow(/check constraint/);
    await expect(
      ledger.withhold({
        idempotencyKey: `guard-withhold-p:${user.id}`,
        userId: user.id,
        amount: 5,
        kind: 'x',
        bucket: 'purchased',
      }),
    ).rejects.toThrow(/bucket: must be a withdrawable bucket/);
  });

  test('then a transfer that would overdraw a user account violates the available >= 0 constraint', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(rawTransfer(user.id, { key: 'raw-overdraw', amount: 11 })).rejects.toThrow(
      /accounts_available_not_negative/,
    );
    expect((await ledger.balance(user.id)).available).toBe(10);
  });

  test('then an account cannot be created with a balance', async () => {
    await expect(sql`INSERT INTO accounts (code, posted) VALUES ('system:free-money', 5)`).rejects.toThrow(
      /start at zero/,
    );
  });

  test('then a transfer naming an account that does not exist is refused, and nothing moves', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(
      rawTransfer(user.id, { key: 'raw-ghost', amount: 1, creditAccountId: 987654321 }),
    ).rejects.toThrow(/names an account that does not exist/);
    expect((await ledger.balance(user.id)).available).toBe(10);
  });

  test('then a transfer without its idempotent operation is refused', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(
      rawTransfer(user.id, { key: 'raw-no-operation', amount: 1, withOperation: false }),
    ).rejects.toThrow(/names an operation that does not exist/);
    // Refused as that even when its amount would also overdraw the account.
    await expect(
      rawTransfer(user.id, { key: 'raw-no-operation-overdraw', amount: 11, withOperation: false }),
    ).rejects.toThrow(/names an operation that does not exist/);
    // One statement naming a recorded operation and a missing one is refused as a whole.
    await expect(
      sql.begin(async (tx) => {
        await tx`INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result) VALUES ('raw-recorded', 'raw', 'x', '{}')`;
        await tx`
          INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind)
          SELECT k, a.id, (SELECT id FROM accounts WHERE code = 'system:usage'), 1, 'raw'
          FROM accounts a, unnest(ARRAY['raw-recorded', 'raw-recorded', 'raw-missing']) AS k
          WHERE a.user_id = ${user.id} AND a.bucket = 'purchased'`;
      }),
    ).rejects.toThrow(/names an operation that does not exist/);
    expect((await ledger.balance(user.id)).available).toBe(10);
  });

  test('then a transfer or hold says what caused it only with a lower-case word of at most 40 characters', async () => {
    const { user } = await fundedUser(sql, ledger, 100);
    const withCause = (key: string, causeType: string) =>
      sql.begin(async (tx) => {
        await tx`INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result) VALUES (${key}, 'raw', 'x', '{}')`;
        await tx`
          INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind, cause_type, cause_id)
          SELECT ${key}, a.id, (SELECT id FROM accounts WHERE code = 'system:usage'), 1, 'raw', ${causeType}, 'c1'
          FROM accounts a WHERE a.user_id = ${user.id} AND a.bucket = 'purchased'`;
      });
    const holdWithCause = (causeType: string) =>
      sql`
        INSERT INTO holds (id, operation_key, user_id, credit_account_id, amount, status, kind, expires_at, resolved_at, cause_type, cause_id)
        VALUES (gen_random_uuid(), ${`test-fund:${user.id}:purchased`}, ${user.id},
                (SELECT id FROM accounts WHERE code = 'system:usage'), 1, 'voided', 'raw', now(), now(), ${causeType}, 'c1')`;
    const forty = `a${'b_'.repeat(19)}c`;
    expect(forty).toHaveLength(40);
    for (const [i, good] of ['a', 'usage_event', forty].entries()) {
      await withCause(`raw-cause-ok-${i}`, good);
      await holdWithCause(good);
    }
    for (const [i, bad] of [
      '',
      'Usage',
      '_usage',
      'usage-event',
      'usage event',
      'é',
      `${forty}d`,
      'usage\n',
    ].entries()) {
      await expect(withCause(`raw-cause-bad-${i}`, bad)).rejects.toThrow(/transfers_cause_type_check/);
      await expect(holdWithCause(bad)).rejects.toThrow(/holds_cause_type_check/);
    }
    expect((await ledger.balance(user.id)).available).toBe(97);
  });

  test('then accounts and idempotency records cannot be deleted, truncated or rewritten', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(sql`DELETE FROM accounts WHERE user_id = ${user.id}`).rejects.toThrow(/immutable/);
    await expect(sql`TRUNCATE accounts CASCADE`).rejects.toThrow(/immutable/);
    await expect(
      sql`UPDATE ledger_operations SET result = '{}' WHERE idempotency_key = ${`test-fund:${user.id}:purchased`}`,
    ).rejects.toThrow(/immutable/);
    await expect(sql`DELETE FROM ledger_operations`).rejects.toThrow(/immutable/);
    await expect(sql`TRUNCATE ledger_operations CASCADE`).rejects.toThrow(/immutable/);
    expect((await ledger.balance(user.id)).available).toBe(10);
  });
});
