import { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { fundedUser, testPool } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  sql = testPool(2);
  ledger = await Ledger.open(sql);
});
afterAll(() => sql.end());

/** The database itself refuses what would break the ledger, whoever the caller is. */
describe('when code outside the ledger module tries to change money state directly', () => {
  test('then a direct balance update is refused', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(sql`UPDATE accounts SET posted = posted + 1000 WHERE user_id = ${user.id}`).rejects.toThrow(
      /balances change only through transfers/,
    );
  });

  test('then transfers cannot be updated, deleted or truncated', async () => {
    await fundedUser(sql, ledger, 10);
    await expect(sql`UPDATE transfers SET amount = amount + 1`).rejects.toThrow(/immutable/);
    await expect(sql`DELETE FROM transfers`).rejects.toThrow(/immutable/);
    await expect(sql`TRUNCATE transfers CASCADE`).rejects.toThrow(/immutable/);
  });

  test('then a transfer that would overdraw a user account violates the available >= 0 constraint', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(
      sql.begin(async (tx) => {
        await tx`INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result) VALUES ('raw-overdraw', 'raw', 'x', '{}')`;
        await tx`
          INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind)
          SELECT 'raw-overdraw', a.id, s.id, 11, 'raw'
          FROM accounts a, accounts s WHERE a.user_id = ${user.id} AND a.bucket = 'purchased' AND s.code = 'system:usage'`;
      }),
    ).rejects.toThrow(/accounts_available_not_negative/);
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
      sql.begin(async (tx) => {
        await tx`INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result) VALUES ('raw-ghost', 'raw', 'x', '{}')`;
        await tx`
          INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind)
          SELECT 'raw-ghost', a.id, 987654321, 1, 'raw'
          FROM accounts a WHERE a.user_id = ${user.id} AND a.bucket = 'purchased'`;
      }),
    ).rejects.toThrow(/names an account that does not exist/);
    expect((await ledger.balance(user.id)).available).toBe(10);
  });

  test('then a transfer without its idempotent operation is refused', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await expect(sql`
      INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind)
      SELECT 'raw-no-operation', a.id, s.id, 1, 'raw'
      FROM accounts a, accounts s WHERE a.user_id = ${user.id} AND a.bucket = 'purchased' AND s.code = 'system:usage'`).rejects.toThrow(
      /names an operation that does not exist/,
    );
    expect((await ledger.balance(user.id)).available).toBe(10);
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
