import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import { SystemAccounts } from '../../db/ledger/accounts';
import { debitMany } from '../../db/ledger/debits';
import type { Sql } from '../../db/pool';
import { IdempotencyConflict, InsufficientCredits, NotFound } from '../../domain';
import { closeTestLedger, fundedUser, grantCredits, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;
let system: SystemAccounts;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger(4));
  system = new SystemAccounts();
  await system.load(sql);
});
afterAll(() => closeTestLedger({ sql, ledger }));

/** One call of ledger_debit_batch (migrations 008, 009): every request gets its own answer. */
describe('when one group commit holds every kind of request', () => {
  test("when each user's batch fits their balance, then running totals split each debit across buckets", async () => {
    const { user } = await fundedUser(sql, ledger, 80);
    await grantCredits(ledger, user.id, 50, 'earned');
    const { user: other } = await fundedUser(sql, ledger, 9);
    const settled = await debitMany(sql, system, [
      { idempotencyKey: randomUUID(), userId: user.id, amount: 70, kind: 'test' },
      { idempotencyKey: randomUUID(), userId: other.id, amount: 9, kind: 'test' },
      { idempotencyKey: randomUUID(), userId: user.id, amount: 30, kind: 'test' },
      { idempotencyKey: randomUUID(), userId: user.id, amount: 30, kind: 'test' },
    ]);
    expect(settled.map((s) => (s.ok ? s.value : s.error))).toEqual([
      { amount: 70, availableAfter: 60, legs: [{ bucket: 'purchased', amount: 70 }] },
      { amount: 9, availableAfter: 0, legs: [{ bucket: 'purchased', amount: 9 }] },
      {
        amount: 30,
        availableAfter: 30,
        legs: [
          { bucket: 'purchased', amount: 10 },
          { bucket: 'earned', amount: 20 },
        ],
      },
      { amount: 30, availableAfter: 0, legs: [{ bucket: 'earned', amount: 30 }] },
    ]);
    expect(await ledger.balance(user.id)).toMatchObject({ available: 0, posted: 0 });
  });

  test("then a new debit's answer is exactly what its replay returns from the stored record", async () => {
    const { user } = await fundedUser(sql, ledger, 20);
    await grantCredits(ledger, user.id, 20, 'earned');
    const requests = [
      { amount: 15, memo: { eventId: 'e-1', breakdown: [{ item: 'base', credits: 15 }] } }, // purchased
      // Not JSON as given (a Date, an undefined): the answer is the stored data, like the replay.
      { amount: 10, memo: { eventId: 'e-2', nested: { a: [1, 2] }, at: new Date(0), gone: undefined } }, // 5 + 5
      { amount: 5 }, // earned only, no memo
    ].map((r) => ({ ...r, idempotencyKey: randomUUID(), userId: user.id, kind: 'test' }));
    const first = (await debitMany(sql, system, requests)).map((s) => (s.ok ? s.value : s.error));
    const replays = (await debitMany(sql, system, requests)).map((s) => (s.ok ? s.value : s.error));
    expect(first.map((r) => r instanceof Error)).toEqual([false, false, false]);
    expect(replays).toStrictEqual(first.map((r) => ({ ...r, replayed: true })));
    expect(first[1]).toMatchObject({ memo: { eventId: 'e-2', at: '1970-01-01T00:00:00.000Z' } });
    expect(first[1]).toMatchObject({
      availableAfter: 15,
      legs: [
        { bucket: 'purchased', amount: 5 },
        { bucket: 'earned', amount: 5 },
      ],
    });
  });

  test('then each gets its own outcome and only the successful ones move credits', async () => {
    const { user: rich } = await fundedUser(sql, ledger, 100);
    await grantCredits(ledger, rich.id, 50, 'earned');
    const { user: poor } = await fundedUser(sql, ledger, 5);
    const earlier = await ledger.debit({
      idempotencyKey: randomUUID(),
      userId: rich.id,
      amount: 10,
      kind: 'test',
    });
    const earlierKey = randomUUID();
    await ledger.debit({ idempotencyKey: earlierKey, userId: rich.id, amount: 10, kind: 'test' });
    expect(earlier.availableAfter).toBe(140);

    const twin = randomUUID();
    const settled = await debitMany(sql, system, [
      { idempotencyKey: randomUUID(), userId: rich.id, amount: 70, kind: 'test' }, // purchased 70
      { idempotencyKey: randomUUID(), userId: poor.id, amount: 6, kind: 'test' }, // insufficient
      { idempotencyKey: randomUUID(), userId: rich.id, amount: 30, kind: 'test', memo: { n: 1 } }, // 10 + 20 earned
      { idempotencyKey: earlierKey, userId: rich.id, amount: 10, kind: 'test' }, // replay
      { idempotencyKey: earlierKey, userId: rich.id, amount: 11, kind: 'test' }, // conflict
      { idempotencyKey: randomUUID(), userId: randomUUID(), amount: 1, kind: 'test' }, // no such user
      { idempotencyKey: twin, userId: poor.id, amount: 5, kind: 'test' }, // spends all of poor
      { idempotencyKey: twin, userId: poor.id, amount: 5, kind: 'test' }, // its twin: replayed
      { idempotencyKey: randomUUID(), userId: rich.id, amount: 31, kind: 'test' }, // 30 left: insufficient
    ]);

    const values = settled.map((s) => (s.ok ? s.value : s.error));
    expect(values[0]).toMatchObject({
      amount: 70,
      availableAfter: 60,
      legs: [{ bucket: 'purchased', amount: 70 }],
    });
    expect(values[1]).toBeInstanceOf(InsufficientCredits);
    expect(values[1]).toMatchObject({ needed: 6, available: 5 });
    expect(values[2]).toMatchObject({
      amount: 30,
      availableAfter: 30,
      memo: { n: 1 },
      legs: [
        { bucket: 'purchased', amount: 10 },
        { bucket: 'earned', amount: 20 },
      ],
    });
    expect(values[3]).toMatchObject({ amount: 10, availableAfter: 130, replayed: true });
    expect(values[4]).toBeInstanceOf(IdempotencyConflict);
    expect(values[5]).toBeInstanceOf(NotFound);
    expect(values[6]).toMatchObject({ amount: 5, availableAfter: 0 });
    expect(values[7]).toMatchObject({ amount: 5, availableAfter: 0, replayed: true });
    expect(values[8]).toBeInstanceOf(InsufficientCredits);
    expect(values[8]).toMatchObject({ needed: 31, available: 30 });

    expect((await ledger.balance(rich.id)).available).toBe(30);
    expect((await ledger.balance(poor.id)).available).toBe(0);
    const [count] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
      WHERE a.user_id IN (${rich.id}, ${poor.id}) AND t.kind = 'test'`;
    expect(count?.n).toBe(2 + 1 + 2 + 1); // two earlier debits, 70, 10 + 20, poor's 5
  });
});
