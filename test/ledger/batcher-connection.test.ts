import { randomUUID } from 'node:crypto';
import { Ledger } from '../../db/ledger';
import { BATCHES_APPLICATION_NAME } from '../../db/ledger/batcher';
import type { Sql } from '../../db/pool';
import { IdempotencyConflict } from '../../domain';
import { fundedUser, testPool } from '../support/db';

/**
 * The group commit sends its batches on a connection of its own, up to two at a time
 * (db/ledger/batcher.ts): Postgres runs them in order, so the second one sees what the first
 * committed.
 */
let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  sql = testPool(3);
  ledger = await Ledger.open(sql);
});
afterAll(async () => {
  await ledger.close();
  await sql.end();
});

/** The transactions (xmin) that wrote these operations: one per batch. */
async function writers(keys: string[]): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    SELECT count(DISTINCT xmin::text)::int AS n FROM ledger_operations
    WHERE idempotency_key = ANY (${keys}::text[])`;
  return row!.n;
}

describe('when the same key is sent twice at once, so each copy goes out in its own batch', () => {
  test('then the second batch runs after the first commits and replays its answer', async () => {
    const { user } = await fundedUser(sql, ledger, 100);
    const request = { idempotencyKey: randomUUID(), userId: user.id, amount: 30, kind: 'test' };
    const [first, second] = await Promise.all([ledger.debit(request), ledger.debit({ ...request })]);
    expect(first).toEqual({ amount: 30, availableAfter: 70, legs: [{ bucket: 'purchased', amount: 30 }] });
    expect(second).toEqual({ ...first, replayed: true });
    expect((await ledger.balance(user.id)).available).toBe(70);
  });

  test('then a different request under that key is a conflict and moves nothing', async () => {
    const { user } = await fundedUser(sql, ledger, 100);
    const request = { idempotencyKey: randomUUID(), userId: user.id, amount: 30, kind: 'test' };
    const [first, second] = await Promise.allSettled([
      ledger.debit(request),
      ledger.debit({ ...request, amount: 31 }),
    ]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' && second.reason).toBeInstanceOf(IdempotencyConflict);
    expect((await ledger.balance(user.id)).available).toBe(70);
  });

  test('then debits sent while two batches are in flight wait for the next one', async () => {
    const { user } = await fundedUser(sql, ledger, 100);
    const keys = Array.from({ length: 12 }, () => randomUUID());
    await Promise.all(
      keys.map((key) => ledger.debit({ idempotencyKey: key, userId: user.id, amount: 1, kind: 'test' })),
    );
    // The first two go out alone, one batch each; the other ten share the batch after them.
    expect(await writers(keys)).toBe(3);
    expect((await ledger.balance(user.id)).available).toBe(88);
  });
});

/** The backends of the batches' own connection. */
async function batchBackends(): Promise<number[]> {
  const rows = await sql<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = ${BATCHES_APPLICATION_NAME}`;
  return rows.map((r) => r.pid);
}

test('when debits flow, then they use one connection of their own and leave the pool free', async () => {
  const { user } = await fundedUser(sql, ledger, 1000);
  const debits = Array.from({ length: 200 }, () =>
    ledger.debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 1, kind: 'test' }),
  );
  // Meanwhile the pool's three connections each run a query at once: three 0.3 s sleeps end
  // together, well before the 0.9 s they would take if the debits held one of them.
  const started = performance.now();
  await Promise.all([0, 1, 2].map(() => sql`SELECT pg_sleep(0.3)`));
  expect(performance.now() - started).toBeLessThan(850);
  await Promise.all(debits);
  expect(await batchBackends()).toHaveLength(1);
  expect((await ledger.balance(user.id)).available).toBe(800);
});

test("when the batcher's connection is killed while debits flow, then every debit still settles exactly once", async () => {
  const { user } = await fundedUser(sql, ledger, 10_000);
  const keys = Array.from({ length: 600 }, () => randomUUID());
  let killed = 0;
  const debits = keys.map((key, i) => {
    const debit = ledger.debit({ idempotencyKey: key, userId: user.id, amount: 1, kind: 'test' });
    // Once the first answer is back, the later batches are queued or running on the connection.
    if (i === 0) {
      void debit.then(async () => {
        const rows = await sql<{ ok: boolean }[]>`
          SELECT pg_terminate_backend(pid) AS ok FROM unnest(${await batchBackends()}::int[]) AS pid`;
        killed = rows.filter((r) => r.ok).length;
      });
    }
    return debit;
  });
  const results = await Promise.allSettled(debits);
  expect(killed).toBeGreaterThanOrEqual(1);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  // A batch the kill cut off either committed (its debits then replay) or did not (they run again).
  expect((await ledger.balance(user.id)).available).toBe(10_000 - keys.length);
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM transfers WHERE operation_key = ANY (${keys}::text[])`;
  expect(row!.n).toBe(keys.length);
});
