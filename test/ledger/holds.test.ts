import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { HoldNotPending, InsufficientCredits } from '../../domain';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger());
});
afterAll(() => closeTestLedger({ sql, ledger }));

async function holdFor(userId: string, amount: number, expiresInSeconds = 600) {
  const holdId = randomUUID();
  await ledger.hold({
    idempotencyKey: `hold:${holdId}`,
    holdId,
    userId,
    amount,
    kind: 'task',
    expiresInSeconds,
  });
  return holdId;
}

test('when credits are held, then they leave available but stay posted', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  await holdFor(user.id, 40);
  expect(await ledger.balance(user.id)).toMatchObject({ posted: 100, held: 40, available: 60 });
});

test('when a hold is posted for less than held, then only that is charged and the rest is released', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const holdId = await holdFor(user.id, 40);
  const result = await ledger.postHold({ idempotencyKey: `post:${holdId}`, holdId, amount: 25 });
  expect(result).toEqual({ holdId, posted: 25, released: 15 });
  expect(await ledger.balance(user.id)).toMatchObject({ posted: 75, held: 0, available: 75 });
  // replay: same result, nothing moves twice
  expect(await ledger.postHold({ idempotencyKey: `post:${holdId}`, holdId, amount: 25 })).toEqual(result);
  expect((await ledger.balance(user.id)).posted).toBe(75);
});

test('when a post asks for more than was held, then it is refused and the hold stays pending', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const holdId = await holdFor(user.id, 40);
  await expect(ledger.postHold({ idempotencyKey: randomUUID(), holdId, amount: 41 })).rejects.toMatchObject({
    code: 'validation_error',
  });
  expect(await ledger.balance(user.id)).toMatchObject({ posted: 100, held: 40 });
});

test('when a hold is voided, then everything is released and it cannot be posted afterwards', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const holdId = await holdFor(user.id, 40);
  expect(await ledger.voidHold({ idempotencyKey: `void:${holdId}`, holdId })).toEqual({
    holdId,
    released: 40,
  });
  expect(await ledger.balance(user.id)).toMatchObject({ posted: 100, held: 0, available: 100 });
  await expect(ledger.postHold({ idempotencyKey: randomUUID(), holdId, amount: 10 })).rejects.toBeInstanceOf(
    HoldNotPending,
  );
});

test('when the balance cannot cover a hold, then it fails as insufficient credits', async () => {
  const { user } = await fundedUser(sql, ledger, 10);
  await expect(holdFor(user.id, 11)).rejects.toBeInstanceOf(InsufficientCredits);
});

test('when 50 holds race for credits enough for 20, then exactly 20 are taken', async () => {
  const { user } = await fundedUser(sql, ledger, 200);
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => holdFor(user.id, 10)));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20);
  expect(await ledger.balance(user.id)).toMatchObject({ held: 200, available: 0 });
});

test('when a hold expires, then the sweeper releases it and it can no longer be posted', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const holdId = await holdFor(user.id, 60, 1);
  await new Promise((r) => setTimeout(r, 1100));
  await expect(ledger.postHold({ idempotencyKey: randomUUID(), holdId, amount: 10 })).rejects.toMatchObject({
    status: 'expired',
  });
  expect(await ledger.sweepExpiredHolds()).toBeGreaterThanOrEqual(1);
  expect(await ledger.balance(user.id)).toMatchObject({ posted: 100, held: 0 });
  const [row] = await sql<{ status: string }[]>`SELECT status FROM holds WHERE id = ${holdId}`;
  expect(row!.status).toBe('expired');
});

test('when a debit needs credits an expired hold still reserves, then the hold is released first', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  await holdFor(user.id, 80, 1);
  await new Promise((r) => setTimeout(r, 1100));
  await expect(
    ledger.debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 90, kind: 'test' }),
  ).resolves.toMatchObject({
    availableAfter: 10,
  });
});

test('when a hold spans both buckets and is posted in part, then purchased credits are spent first', async () => {
  const { user } = await fundedUser(sql, ledger, 30, 'purchased');
  await ledger.credit({
    idempotencyKey: randomUUID(),
    userId: user.id,
    amount: 30,
    from: 'creator_earnings',
    bucket: 'earned',
    kind: 'earning',
  });
  const holdId = await holdFor(user.id, 50);
  await ledger.postHold({ idempotencyKey: randomUUID(), holdId, amount: 40 });
  const balance = await ledger.balance(user.id);
  expect(balance.byBucket.purchased).toMatchObject({ posted: 0, held: 0 });
  expect(balance.byBucket.earned).toMatchObject({ posted: 20, held: 0 });
});
