import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { usageSummary } from '../../db/usage';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger(4));
});
afterAll(() => closeTestLedger({ sql, ledger }));

/**
 * A usage transfer at a chosen time. The ledger stamps `now()`, so a summary over several days
 * needs transfers written the way the ledger writes them (an operation row, then transfers whose
 * trigger moves both balances) with an explicit `created_at`. Each leg is one bucket.
 */
async function usageAt(
  userId: string,
  kind: string,
  at: string,
  legs: { bucket: 'purchased' | 'earned'; amount: number }[],
  to = 'system:usage',
): Promise<string> {
  const key = `summary-test:${randomUUID()}`;
  await sql.begin(async (tx) => {
    await tx`INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result)
             VALUES (${key}, 'debit', 'test', '{}'::jsonb)`;
    for (const leg of legs) {
      await tx`
        INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind, created_at)
        SELECT ${key}, mine.id, sys.id, ${leg.amount}, ${kind}, ${at}::timestamptz
        FROM accounts mine, accounts sys
        WHERE mine.user_id = ${userId} AND mine.bucket = ${leg.bucket} AND sys.code = ${to}`;
    }
  });
  return key;
}

describe('usageSummary', () => {
  let userId: string;

  beforeAll(async () => {
    const { user } = await fundedUser(sql, ledger, 1000);
    await ledger.credit({
      idempotencyKey: `summary-earned:${user.id}`,
      userId: user.id,
      amount: 5,
      from: 'grants',
      bucket: 'earned',
      kind: 'grant',
    });
    userId = user.id;
    await usageAt(userId, 'usage:conversation', '2024-03-10T23:30:00Z', [{ bucket: 'purchased', amount: 5 }]);
    await usageAt(userId, 'usage:rag', '2024-03-11T00:30:00Z', [{ bucket: 'purchased', amount: 7 }]);
    await usageAt(userId, 'usage:conversation', '2024-03-11T12:00:00Z', [{ bucket: 'purchased', amount: 3 }]);
    // One event paid from both buckets: two transfers, one event.
    await usageAt(userId, 'usage:upskilling', '2024-03-12T08:00:00Z', [
      { bucket: 'purchased', amount: 15 },
      { bucket: 'earned', amount: 5 },
    ]);
    // Not usage: money to another system account is not consumption.
    await usageAt(
      userId,
      'withdrawal',
      '2024-03-11T09:00:00Z',
      [{ bucket: 'purchased', amount: 11 }],
      'system:withdrawals',
    );
    // Someone else's usage on the same days is not this user's.
    const other = await fundedUser(sql, ledger, 50);
    await usageAt(other.user.id, 'usage:conversation', '2024-03-11T10:00:00Z', [
      { bucket: 'purchased', amount: 9 },
    ]);
  });

  test('when a range covers several days, then usage is grouped by feature and by UTC day', async () => {
    expect(await usageSummary(sql, userId, '2024-03-10', '2024-03-12')).toEqual({
      from: '2024-03-10',
      to: '2024-03-12',
      totalCredits: 35,
      reversedCredits: 0,
      reversals: 0,
      byFeature: [
        { feature: 'conversation', credits: 8, events: 2, reversedCredits: 0, reversals: 0 },
        { feature: 'rag', credits: 7, events: 1, reversedCredits: 0, reversals: 0 },
        { feature: 'upskilling', credits: 20, events: 1, reversedCredits: 0, reversals: 0 },
      ],
      byDay: [
        { day: '2024-03-10', credits: 5, byFeature: { conversation: 5 }, reversedCredits: 0 },
        { day: '2024-03-11', credits: 10, byFeature: { conversation: 3, rag: 7 }, reversedCredits: 0 },
        { day: '2024-03-12', credits: 20, byFeature: { upskilling: 20 }, reversedCredits: 0 },
      ],
    });
  });

  test('when the range is one day, then its bounds are UTC midnights, inclusive', async () => {
    const summary = await usageSummary(sql, userId, '2024-03-11', '2024-03-11');
    expect(summary.totalCredits).toBe(10);
    expect(summary.byDay.map((d) => d.day)).toEqual(['2024-03-11']);
  });

  test('when the database session is in another time zone, then the days are still UTC days', async () => {
    const conn = await sql.reserve();
    try {
      await conn`SET TIME ZONE 'Pacific/Kiritimati'`; // UTC+14: a bare date would shift the range by 14 h
      const summary = await usageSummary(conn, userId, '2024-03-11', '2024-03-11');
      expect(summary.byDay).toEqual([
        { day: '2024-03-11', credits: 10, byFeature: { conversation: 3, rag: 7 }, reversedCredits: 0 },
      ]);
      const before = await usageSummary(conn, userId, '2024-03-10', '2024-03-10');
      expect(before.totalCredits).toBe(5);
    } finally {
      await conn`RESET TIME ZONE`;
      conn.release();
    }
  });

  test('when nothing was used in the range, then the summary is empty, not missing', async () => {
    expect(await usageSummary(sql, userId, '2020-01-01', '2020-01-31')).toEqual({
      from: '2020-01-01',
      to: '2020-01-31',
      totalCredits: 0,
      reversedCredits: 0,
      reversals: 0,
      byFeature: [],
      byDay: [],
    });
  });
});

test('when users are charged through the ledger, then the summary counts their usage whichever shard took it', async () => {
  const users = await Promise.all(Array.from({ length: 6 }, () => fundedUser(sql, ledger, 100)));
  const today = new Date().toISOString().slice(0, 10);
  for (const { user } of users) {
    await ledger.debit({
      idempotencyKey: `summary-shard:${user.id}`,
      userId: user.id,
      amount: 4,
      kind: 'usage:rag',
    });
    const summary = await usageSummary(sql, user.id, today, today);
    expect(summary.totalCredits).toBe(4);
  }
});
