import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { IdempotencyConflict } from '../../domain';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger());
});
afterAll(() => closeTestLedger({ sql, ledger }));

async function transfersWithKey(key: string): Promise<number> {
  const [row] = await sql<
    { n: number }[]
  >`SELECT count(*)::int AS n FROM transfers WHERE operation_key = ${key}`;
  return row!.n;
}

test('when a debit is replayed with the same key and request, then the original result returns and nothing moves again', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const key = randomUUID();
  const first = await ledger.debit({ idempotencyKey: key, userId: user.id, amount: 30, kind: 'test' });
  const again = await ledger.debit({ idempotencyKey: key, userId: user.id, amount: 30, kind: 'test' });
  const alone = await ledger.debitAlone({ idempotencyKey: key, userId: user.id, amount: 30, kind: 'test' });
  expect(first.replayed).toBeUndefined();
  expect(again).toEqual({ ...first, replayed: true });
  expect(alone).toEqual({ ...first, replayed: true });
  expect((await ledger.balance(user.id)).available).toBe(70);
  expect(await transfersWithKey(key)).toBe(1);
});

test('when the same key comes with a different request, then it is a conflict and nothing moves', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const key = randomUUID();
  await ledger.debit({ idempotencyKey: key, userId: user.id, amount: 30, kind: 'test' });
  await expect(
    ledger.debit({ idempotencyKey: key, userId: user.id, amount: 31, kind: 'test' }),
  ).rejects.toBeInstanceOf(IdempotencyConflict);
  await expect(
    ledger.credit({ idempotencyKey: key, userId: user.id, amount: 30, kind: 'test', from: 'grants' }),
  ).rejects.toBeInstanceOf(IdempotencyConflict);
  expect((await ledger.balance(user.id)).available).toBe(70);
});

test('when 50 copies of one debit race, then it is applied once and all 50 get the same result', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const key = randomUUID();
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      (i % 2 ? ledger.debit.bind(ledger) : ledger.debitAlone.bind(ledger))({
        idempotencyKey: key,
        userId: user.id,
        amount: 10,
        kind: 'test',
      }),
    ),
  );
  const { replayed: _, ...original } = results.find((r) => !r.replayed)!;
  for (const { replayed: __, ...r } of results) expect(r).toEqual(original);
  expect(results.filter((r) => !r.replayed)).toHaveLength(1); // applied once, 49 replays
  expect((await ledger.balance(user.id)).available).toBe(90);
  expect(await transfersWithKey(key)).toBe(1);
});

test('when 20 copies of one credit race, then it is credited once', async () => {
  const { user } = await fundedUser(sql, ledger, 0);
  const key = randomUUID();
  await Promise.all(
    Array.from({ length: 20 }, () =>
      ledger.credit({ idempotencyKey: key, userId: user.id, amount: 500, kind: 'grant', from: 'grants' }),
    ),
  );
  expect((await ledger.balance(user.id)).available).toBe(500);
});

test('when a debit fails for lack of credits, then its key is not used up: it succeeds after a top-up', async () => {
  const { user } = await fundedUser(sql, ledger, 5);
  const key = randomUUID();
  await expect(
    ledger.debit({ idempotencyKey: key, userId: user.id, amount: 10, kind: 'test' }),
  ).rejects.toMatchObject({
    code: 'insufficient_credits',
    needed: 10,
    available: 5,
  });
  await ledger.credit({
    idempotencyKey: randomUUID(),
    userId: user.id,
    amount: 5,
    kind: 'grant',
    from: 'grants',
  });
  await expect(
    ledger.debit({ idempotencyKey: key, userId: user.id, amount: 10, kind: 'test' }),
  ).resolves.toMatchObject({
    availableAfter: 0,
  });
});

test.each([
  [0, 'zero'],
  [-5, 'negative'],
  [1.5, 'fractional'],
  [Number.NaN, 'NaN'],
  [1e16, 'huge'],
])('when the amount is %p (%s), then the ledger refuses it before touching the database', async (amount) => {
  const { user } = await fundedUser(sql, ledger, 100);
  await expect(
    ledger.debit({ idempotencyKey: randomUUID(), userId: user.id, amount, kind: 'test' }),
  ).rejects.toMatchObject({
    code: 'validation_error',
    field: 'amount',
  });
  expect((await ledger.balance(user.id)).available).toBe(100);
});

test('when the user does not exist, then the debit is not found and nothing moves', async () => {
  await expect(
    ledger.debit({ idempotencyKey: randomUUID(), userId: randomUUID(), amount: 1, kind: 'test' }),
  ).rejects.toMatchObject({ code: 'not_found' });
});
