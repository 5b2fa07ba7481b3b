import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import { SYSTEM_SHARDS } from '../../db/ledger/accounts';
import type { Sql } from '../../db/pool';
import { Conflict, InsufficientCredits } from '../../domain';
import { closeTestLedger, fundedUser, grantCredits, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger());
});
afterAll(() => closeTestLedger({ sql, ledger }));

async function transferCount(): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM transfers`;
  return row!.n;
}

describe('a multi-leg operation', () => {
  test('when every leg fits, then all legs move under one key and a replay moves nothing', async () => {
    const { user: payer } = await fundedUser(sql, ledger, 100);
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const request = {
      idempotencyKey: `charge-with-share:${payer.id}`,
      kind: 'usage:conversation',
      agentId: 'agent-1',
      cause: { type: 'usage_event' as const, id: 'evt-1' },
      legs: [
        {
          from: { userId: payer.id, bucket: 'purchased' as const },
          to: { system: 'usage' as const },
          amount: 40,
        },
        {
          from: { system: 'creator_earnings' as const },
          to: { userId: creator.id, bucket: 'earned' as const },
          amount: 12,
        },
      ],
    };
    expect(await ledger.post(request)).toEqual({ amount: 52, legs: 2 });
    const before = await transferCount();
    expect(await ledger.post(request)).toEqual({ amount: 52, legs: 2 });
    expect(await transferCount()).toBe(before);
    expect((await ledger.balance(payer.id)).available).toBe(60);
    expect((await ledger.balance(creator.id)).byBucket.earned.posted).toBe(12);
    const rows = await sql<{ agent_id: string; cause_type: string; cause_id: string }[]>`
      SELECT agent_id, cause_type, cause_id FROM transfers WHERE operation_key = ${request.idempotencyKey}`;
    expect(rows).toEqual([
      { agent_id: 'agent-1', cause_type: 'usage_event', cause_id: 'evt-1' },
      { agent_id: 'agent-1', cause_type: 'usage_event', cause_id: 'evt-1' },
    ]);
  });

  test('when one leg would overdraw its account, then no leg moves and the key stays unused', async () => {
    const { user: a } = await fundedUser(sql, ledger, 100);
    const { user: b } = await fundedUser(sql, ledger, 5);
    const key = `two-payers:${a.id}`;
    const before = await transferCount();
    await expect(
      ledger.post({
        idempotencyKey: key,
        kind: 'split',
        legs: [
          { from: { userId: a.id, bucket: 'purchased' }, to: { system: 'usage' }, amount: 50 },
          { from: { userId: b.id, bucket: 'purchased' }, to: { system: 'usage' }, amount: 6 },
        ],
      }),
    ).rejects.toBeInstanceOf(InsufficientCredits);
    expect(await transferCount()).toBe(before);
    expect((await ledger.balance(a.id)).available).toBe(100);
    expect((await ledger.balance(b.id)).available).toBe(5);
    const [op] = await sql`SELECT 1 FROM ledger_operations WHERE idempotency_key = ${key}`;
    expect(op).toBeUndefined();
  });
});

describe('account rules are data', () => {
  test('when a user is made, then each bucket account copies its spend rank and withdrawability', async () => {
    const { user } = await fundedUser(sql, ledger, 0);
    const rows = await sql<
      { bucket: string; spend_rank: number; withdrawable: boolean; allow_negative: boolean }[]
    >`
      SELECT bucket, spend_rank, withdrawable, allow_negative FROM accounts WHERE user_id = ${user.id} ORDER BY spend_rank`;
    expect(rows).toEqual([
      { bucket: 'purchased', spend_rank: 1, withdrawable: false, allow_negative: false },
      { bucket: 'earned', spend_rank: 2, withdrawable: true, allow_negative: false },
    ]);
  });

  test('when anyone tries to change an account rule, then the database refuses', async () => {
    const { user } = await fundedUser(sql, ledger, 0);
    await expect(sql`UPDATE accounts SET allow_negative = true WHERE user_id = ${user.id}`).rejects.toThrow(
      /immutable/,
    );
    await expect(sql`UPDATE accounts SET spend_rank = 9 WHERE user_id = ${user.id}`).rejects.toThrow(
      /immutable/,
    );
    await expect(sql`UPDATE ledger_buckets SET spend_rank = 3 WHERE bucket = 'earned'`).rejects.toThrow(
      /immutable/,
    );
  });

  test('when a user account would be made without its bucket rules, then the database refuses', async () => {
    // A user row with no accounts yet, so only the rules can refuse.
    const id = randomUUID();
    await sql`INSERT INTO users (id, email, api_key_hash, referral_code)
              VALUES (${id}, ${`bare-${id}@example.test`}, ${`hash-${id}`}, ${`ref-${id}`})`;
    await expect(
      sql`INSERT INTO accounts (code, user_id, bucket) VALUES (${`x:${id}`}, ${id}, 'earned')`,
    ).rejects.toThrow(/accounts_bucket_has_rules/);
    await expect(
      sql`INSERT INTO accounts (code, user_id, bucket, spend_rank, withdrawable)
          VALUES (${`y:${id}`}, ${id}, 'earned', 1, true)`,
    ).rejects.toThrow(/accounts_bucket_rules/);
    await expect(
      sql`INSERT INTO accounts (code, user_id, bucket, spend_rank, withdrawable, allow_negative)
          VALUES (${`z:${id}`}, ${id}, 'earned', 2, true, true)`,
    ).rejects.toThrow(/accounts_users_never_negative/);
  });

  /** Per user: how many usage shards their debits reached, and the lowest. */
  async function usageShards(userIds: string[]) {
    return sql<{ user_id: string; shards: number; shard: number }[]>`
      SELECT mine.user_id, count(DISTINCT sys.shard)::int AS shards, min(sys.shard)::int AS shard
      FROM transfers t
      JOIN accounts mine ON mine.id = t.debit_account_id
      JOIN accounts sys ON sys.id = t.credit_account_id AND sys.system_name = 'usage'
      WHERE mine.user_id = ANY(${userIds}::uuid[])
      GROUP BY mine.user_id`;
  }

  test('when users are charged one transaction each, then the system side is spread over shards, one per user', async () => {
    const users = (await Promise.all(Array.from({ length: 8 }, () => fundedUser(sql, ledger, 10)))).map(
      (u) => u.user.id,
    );
    for (const userId of users)
      for (const n of [1, 2])
        await ledger.debitAlone({
          idempotencyKey: `shard:${userId}:${n}`,
          userId,
          amount: 1,
          kind: 'usage:rag',
        });
    const rows = await usageShards(users);
    expect(rows).toHaveLength(8);
    for (const row of rows) expect(row.shards).toBe(1);
    expect(new Set(rows.map((r) => r.shard)).size).toBeGreaterThan(1);
    const [count] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM accounts WHERE system_name = 'usage'`;
    expect(count!.n).toBe(SYSTEM_SHARDS);
  });

  test('when users are charged by group commit, then a batch credits one shard, its batcher', async () => {
    const users = (await Promise.all(Array.from({ length: 8 }, () => fundedUser(sql, ledger, 10)))).map(
      (u) => u.user.id,
    );
    await Promise.all(
      users.map((userId) =>
        ledger.debit({ idempotencyKey: `batch-shard:${userId}`, userId, amount: 1, kind: 'usage:rag' }),
      ),
    );
    const rows = await usageShards(users);
    expect(rows).toHaveLength(8);
    expect(new Set(rows.map((r) => r.shard)).size).toBe(1);
  });
});

describe('holds limited to one bucket', () => {
  test('when a hold names the earned bucket, then only earned credits are held', async () => {
    const { user } = await fundedUser(sql, ledger, 500);
    await grantCredits(ledger, user.id, 300, 'earned');
    const holdId = randomUUID();
    await expect(
      ledger.hold({
        idempotencyKey: `hold-big:${holdId}`,
        holdId,
        userId: user.id,
        amount: 301,
        kind: 'withdrawal',
        bucket: 'earned',
        expiresInSeconds: 60,
      }),
    ).rejects.toBeInstanceOf(InsufficientCredits);
    await ledger.hold({
      idempotencyKey: `hold:${holdId}`,
      holdId,
      userId: user.id,
      amount: 200,
      kind: 'withdrawal',
      to: 'withdrawals',
      bucket: 'earned',
      expiresInSeconds: 60,
    });
    const balance = await ledger.balance(user.id);
    expect(balance.byBucket.purchased).toMatchObject({ posted: 500, held: 0 });
    expect(balance.byBucket.earned).toMatchObject({ posted: 300, held: 200, withdrawable: 100 });
    await ledger.postHold({ idempotencyKey: `post:${holdId}`, holdId, amount: 200 });
    expect((await ledger.balance(user.id)).byBucket.earned).toMatchObject({ posted: 100, held: 0 });
  });
});

describe('clearing', () => {
  test('when earned credits have not cleared, then they can be spent but not withdrawn', async () => {
    const { user } = await fundedUser(sql, ledger, 0);
    await ledger.credit({
      idempotencyKey: `reward-cleared:${user.id}`,
      userId: user.id,
      amount: 70,
      from: 'referral_rewards',
      bucket: 'earned',
      kind: 'referral_reward',
      clearSeconds: 0,
    });
    await ledger.credit({
      idempotencyKey: `reward-pending:${user.id}`,
      userId: user.id,
      amount: 50,
      from: 'creator_earnings',
      bucket: 'earned',
      kind: 'creator_share',
      clearSeconds: 3600,
    });
    let balance = await ledger.balance(user.id);
    expect(balance).toMatchObject({ available: 120, withdrawable: 70 });
    // Spending takes from the earned bucket (nothing purchased): cleared credits count first as spent.
    await ledger.debit({
      idempotencyKey: `spend:${user.id}`,
      userId: user.id,
      amount: 90,
      kind: 'usage:rag',
    });
    balance = await ledger.balance(user.id);
    expect(balance).toMatchObject({ available: 30, withdrawable: 0 });
  });

  test('when the clearing period has passed, then the credits are withdrawable', async () => {
    const { user } = await fundedUser(sql, ledger, 0);
    await ledger.credit({
      idempotencyKey: `reward-short:${user.id}`,
      userId: user.id,
      amount: 40,
      from: 'creator_earnings',
      bucket: 'earned',
      kind: 'creator_share',
      clearSeconds: 1,
    });
    expect((await ledger.balance(user.id)).withdrawable).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await ledger.balance(user.id)).withdrawable).toBe(40);
  });
});

describe('reversals', () => {
  test('when a debit is reversed, then every leg goes back once, whatever key asks again', async () => {
    const { user } = await fundedUser(sql, ledger, 10);
    await grantCredits(ledger, user.id, 10, 'earned');
    const key = `to-reverse:${user.id}`;
    await ledger.debit({
      idempotencyKey: key,
      userId: user.id,
      amount: 15,
      kind: 'usage:rag',
      agentId: 'agent-7',
    });
    const reversal = { idempotencyKey: `reversal:${key}`, operationKey: key, kind: 'usage_reversal' };
    expect(await ledger.reverse(reversal)).toEqual({ operationKey: key, amount: 15, transfers: 2 });
    expect(await ledger.reverse(reversal)).toEqual({ operationKey: key, amount: 15, transfers: 2 });
    await expect(ledger.reverse({ ...reversal, idempotencyKey: `other:${key}` })).rejects.toBeInstanceOf(
      Conflict,
    );
    const balance = await ledger.balance(user.id);
    expect(balance.byBucket.purchased.available).toBe(10);
    expect(balance.byBucket.earned.available).toBe(10);
    const agents = await sql<{ agent_id: string }[]>`
      SELECT t.agent_id FROM transfers t JOIN ledger_operations o ON o.idempotency_key = t.operation_key
      WHERE o.reverses = ${key}`;
    expect(agents.map((a) => a.agent_id)).toEqual(['agent-7', 'agent-7']);
  });

  test('when two keys reverse one operation at once, then it is reversed exactly once', async () => {
    const { user } = await fundedUser(sql, ledger, 50);
    const key = `race-reverse:${user.id}`;
    await ledger.debit({ idempotencyKey: key, userId: user.id, amount: 20, kind: 'usage:rag' });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        ledger.reverse({ idempotencyKey: `r${i}:${key}`, operationKey: key, kind: 'usage_reversal' }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(Conflict);
    expect((await ledger.balance(user.id)).available).toBe(50);
  });

  test('when the credits a credit gave are spent, then its reversal moves nothing', async () => {
    const { user } = await fundedUser(sql, ledger, 0);
    const key = `gift:${user.id}`;
    await ledger.credit({ idempotencyKey: key, userId: user.id, amount: 30, from: 'grants', kind: 'grant' });
    await ledger.debit({
      idempotencyKey: `spend-gift:${user.id}`,
      userId: user.id,
      amount: 25,
      kind: 'usage:rag',
    });
    await expect(
      ledger.reverse({ idempotencyKey: `take-back:${key}`, operationKey: key, kind: 'grant_reversal' }),
    ).rejects.toBeInstanceOf(InsufficientCredits);
    expect((await ledger.balance(user.id)).available).toBe(5);
  });
});
