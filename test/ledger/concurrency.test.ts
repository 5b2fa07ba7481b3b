import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { InsufficientCredits } from '../../domain';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger(40));
});
afterAll(() => closeTestLedger({ sql, ledger }));

describe.each([
  ['group commit (debit)', (l: Ledger) => l.debit.bind(l)],
  ['one transaction each (debitAlone)', (l: Ledger) => l.debitAlone.bind(l)],
])('when 200 debits race on one account funded for 142 of them, via %s', (_name, pick) => {
  test('then exactly 142 succeed, 58 fail as insufficient credits, and the balance ends at 6', async () => {
    const { user } = await fundedUser(sql, ledger, 1000);
    const debit = pick(ledger);
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 7, kind: 'test' }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(ok).toHaveLength(142);
    expect(failed).toHaveLength(58);
    for (const f of failed) expect(f.reason).toBeInstanceOf(InsufficientCredits);
    const balance = await ledger.balance(user.id);
    expect(balance).toMatchObject({ available: 6, posted: 6, held: 0 });
    const after = ok.map(
      (r) => (r as PromiseFulfilledResult<{ availableAfter: number }>).value.availableAfter,
    );
    expect(Math.min(...after)).toBe(6);
    expect(new Set(after).size).toBe(142); // each success saw its own balance: no double spend
  });
});

test('when debits for many users share one batch, then each user is charged only their own', async () => {
  const users = await Promise.all(Array.from({ length: 20 }, () => fundedUser(sql, ledger, 50)));
  await Promise.all(
    users.flatMap(({ user }) =>
      Array.from({ length: 5 }, () =>
        ledger.debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 10, kind: 'test' }),
      ),
    ),
  );
  for (const { user } of users) expect((await ledger.balance(user.id)).available).toBe(0);
});

test('when a debit exceeds purchased credits, then it spends purchased first and the rest from earned', async () => {
  const { user } = await fundedUser(sql, ledger, 30, 'purchased');
  await ledger.credit({
    idempotencyKey: randomUUID(),
    userId: user.id,
    amount: 50,
    from: 'referral_rewards',
    bucket: 'earned',
    kind: 'referral',
  });
  const result = await ledger.debit({
    idempotencyKey: randomUUID(),
    userId: user.id,
    amount: 45,
    kind: 'test',
  });
  expect(result.legs).toEqual([
    { bucket: 'purchased', amount: 30 },
    { bucket: 'earned', amount: 15 },
  ]);
  const balance = await ledger.balance(user.id);
  expect(balance.byBucket.purchased.available).toBe(0);
  expect(balance.byBucket.earned.available).toBe(35);
});
