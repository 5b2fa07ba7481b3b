import { randomUUID } from 'node:crypto';
import { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { IdempotencyConflict } from '../../domain';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

/**
 * The group commit sends its batches on a connection of its own, up to two at a time
 * (db/ledger/batcher.ts): Postgres runs them in order, so the second one sees what the first
 * committed.
 */
let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger(3));
});
afterAll(() => closeTestLedger({ sql, ledger }));

/** The backends of this ledger's batch connection. */
async function batchBackends(): Promise<number[]> {
  const rows = await sql<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE application_name = ${ledger.batchConnectionName}`;
  return rows.map((r) => r.pid);
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting until ${what}`);
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
});

test('when debits arrive while two batches are in flight, then they wait and share the next one', async () => {
  const { user } = await fundedUser(sql, ledger, 100);
  const keys = Array.from({ length: 12 }, () => randomUUID());
  await Promise.all(
    keys.map((key) => ledger.debit({ idempotencyKey: key, userId: user.id, amount: 1, kind: 'test' })),
  );
  // The first two go out alone, one batch each; the other ten share the batch after them.
  const [row] = await sql<{ n: number }[]>`
    SELECT count(DISTINCT xmin::text)::int AS n FROM ledger_operations
    WHERE idempotency_key = ANY (${keys}::text[])`;
  expect(row!.n).toBe(3);
  expect((await ledger.balance(user.id)).available).toBe(88);
});

test('when debits flow, then their batches all go through one connection', async () => {
  const { user } = await fundedUser(sql, ledger, 1000);
  await Promise.all(
    Array.from({ length: 200 }, () =>
      ledger.debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 1, kind: 'test' }),
    ),
  );
  expect(await batchBackends()).toHaveLength(1);
  expect((await ledger.balance(user.id)).available).toBe(800);
});

test("when the batch connection's backend is killed mid-batch, then every debit settles exactly once", async () => {
  const { user } = await fundedUser(sql, ledger, 10_000);
  const keys = Array.from({ length: 600 }, () => randomUUID());
  let debits: Promise<unknown>[] = [];
  // Hold the system accounts, so the first batch stops inside Postgres (it locks them last, after
  // writing its operations), then terminate its backend there: nothing of it commits, and the
  // batch pipelined behind it fails too. Both fall back to one debit at a time on the pool.
  const killed = await sql.begin(async (tx) => {
    await tx`SELECT id FROM accounts WHERE user_id IS NULL ORDER BY id FOR UPDATE`;
    debits = keys.map((key) =>
      ledger.debit({ idempotencyKey: key, userId: user.id, amount: 1, kind: 'test' }),
    );
    await until(async () => {
      const [row] = await tx<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE application_name = ${ledger.batchConnectionName} AND wait_event_type = 'Lock'`;
      return row!.n === 1;
    }, 'the batch waits for the system accounts');
    const rows = await tx<{ ok: boolean }[]>`
      SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE application_name = ${ledger.batchConnectionName}`;
    return rows.filter((r) => r.ok).length;
  });
  const results = await Promise.allSettled(debits);
  expect(killed).toBe(1);
  expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
  expect((await ledger.balance(user.id)).available).toBe(10_000 - keys.length);
  const [row] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM transfers WHERE operation_key = ANY (${keys}::text[])`;
  expect(row!.n).toBe(keys.length);
  // And the connection is back for the next batches.
  await ledger.debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 1, kind: 'test' });
  expect(await batchBackends()).toHaveLength(1);
});

test('when the ledger is closed, then it refuses new debits', async () => {
  const other = await Ledger.open(sql);
  const { user } = await fundedUser(sql, other, 10);
  await other.debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 1, kind: 'test' });
  await other.close();
  await expect(
    other.debit({ idempotencyKey: randomUUID(), userId: user.id, amount: 1, kind: 'test' }),
  ).rejects.toThrow('closed');
  expect((await ledger.balance(user.id)).available).toBe(9);
});
