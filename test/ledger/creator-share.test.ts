import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { InsufficientCredits, InsufficientWithdrawable, ValidationError } from '../../domain';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

/**
 * DESIGN.md §11: a creator's share is paid in the same ledger operation as the charge, clears
 * after a period, and withdrawals hold only cleared earned credits, checked under the lock.
 */
let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger());
});
afterAll(() => closeTestLedger({ sql, ledger }));

interface ShareRow {
  kind: string;
  amount: number;
  agent_id: string | null;
  clearing: boolean;
}

async function transfersOf(key: string): Promise<ShareRow[]> {
  return sql<ShareRow[]>`
    SELECT kind, amount, agent_id, coalesce(clears_at > now(), false) AS clearing
    FROM transfers WHERE operation_key = ${key} ORDER BY id`;
}

function charge(payerId: string, creatorId: string, amount: number, share: number, clearSeconds = 3600) {
  const key = `usage:${payerId}:${randomUUID()}`;
  return {
    key,
    request: {
      idempotencyKey: key,
      userId: payerId,
      amount,
      kind: 'usage:conversation',
      agentId: 'agent-a',
      cause: { type: 'usage_event' as const, id: key },
      share: { userId: creatorId, amount: share, clearSeconds },
    },
  };
}

describe('a debit with a creator share', () => {
  test('when it commits, then the charge and the share are one operation, and a replay moves nothing', async () => {
    const { user: payer } = await fundedUser(sql, ledger, 100);
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const { key, request } = charge(payer.id, creator.id, 40, 12);
    const result = await ledger.debit(request);
    expect(result).toMatchObject({ amount: 40, availableAfter: 60 });
    expect(await transfersOf(key)).toEqual([
      { kind: 'usage:conversation', amount: 40, agent_id: 'agent-a', clearing: false },
      { kind: 'creator_share', amount: 12, agent_id: 'agent-a', clearing: true },
    ]);
    expect(await ledger.debit(request)).toMatchObject({ replayed: true });
    expect(await transfersOf(key)).toHaveLength(2);
    const earned = (await ledger.balance(creator.id)).byBucket.earned;
    // Spendable at once, withdrawable only once cleared.
    expect(earned).toMatchObject({ posted: 12, available: 12, withdrawable: 0 });
  });

  test('when many charges for one creator commit at once (group commit), then each pays its share once', async () => {
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const payers = await Promise.all(Array.from({ length: 5 }, () => fundedUser(sql, ledger, 50)));
    const charges = payers.flatMap(({ user }) =>
      Array.from({ length: 8 }, () => charge(user.id, creator.id, 5, 1)),
    );
    const results = await Promise.allSettled(charges.map((c) => ledger.debit(c.request)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(40);
    expect((await ledger.balance(creator.id)).byBucket.earned.posted).toBe(40);
    for (const { user } of payers) expect((await ledger.balance(user.id)).available).toBe(10);
  });

  test('when the payer cannot cover the charge, then neither the charge nor the share moves', async () => {
    const { user: payer } = await fundedUser(sql, ledger, 10);
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const { key, request } = charge(payer.id, creator.id, 40, 12);
    await expect(ledger.debit(request)).rejects.toBeInstanceOf(InsufficientCredits);
    expect(await transfersOf(key)).toEqual([]);
    expect((await ledger.balance(creator.id)).posted).toBe(0);
  });

  test('when the share is more than the charge, then it is refused before anything moves', async () => {
    const { user: payer } = await fundedUser(sql, ledger, 100);
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const { request } = charge(payer.id, creator.id, 10, 11);
    await expect(ledger.debit(request)).rejects.toThrow(ValidationError);
    await expect(ledger.debit(request)).rejects.toThrow(/^share\.amount:/);
  });

  test('when the charge is reversed, then the share goes back with it, in one operation', async () => {
    const { user: payer } = await fundedUser(sql, ledger, 100);
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const { key, request } = charge(payer.id, creator.id, 40, 12);
    await ledger.debit(request);
    await ledger.reverse({ idempotencyKey: `reverse:${key}`, operationKey: key, kind: 'usage_reversal' });
    expect((await ledger.balance(payer.id)).available).toBe(100);
    expect((await ledger.balance(creator.id)).posted).toBe(0);
    expect((await transfersOf(`reverse:${key}`)).map((t) => t.agent_id)).toEqual(['agent-a', 'agent-a']);
  });
});

describe('a posted hold with a creator share', () => {
  test('when a task settles, then the posted charge and the share move together, once', async () => {
    const { user: payer } = await fundedUser(sql, ledger, 100);
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const holdId = randomUUID();
    await ledger.hold({
      idempotencyKey: `hold:${holdId}`,
      holdId,
      userId: payer.id,
      amount: 75,
      kind: 'usage:project_task',
      expiresInSeconds: 60,
      agentId: 'agent-b',
    });
    const settle = {
      idempotencyKey: `settle:${holdId}`,
      holdId,
      amount: 50,
      share: { userId: creator.id, amount: 15, clearSeconds: 0 },
    };
    expect(await ledger.postHold(settle)).toEqual({ holdId, posted: 50, released: 25 });
    expect(await ledger.postHold(settle)).toEqual({ holdId, posted: 50, released: 25 });
    expect((await ledger.balance(payer.id)).available).toBe(50);
    expect((await ledger.balance(creator.id)).byBucket.earned).toMatchObject({
      posted: 15,
      withdrawable: 15,
    });
    expect((await transfersOf(`settle:${holdId}`)).map((t) => [t.kind, t.amount, t.agent_id])).toEqual([
      ['usage:project_task', 50, 'agent-b'],
      ['creator_share', 15, 'agent-b'],
    ]);
  });
});

describe('a hold of withdrawable credits only', () => {
  async function earner(cleared: number, clearing: number) {
    const { user } = await fundedUser(sql, ledger, 0);
    for (const [amount, clearSeconds] of [
      [cleared, 0],
      [clearing, 3600],
    ] as const) {
      if (amount > 0)
        await ledger.credit({
          idempotencyKey: `earn:${user.id}:${clearSeconds}`,
          userId: user.id,
          amount,
          from: 'creator_earnings',
          bucket: 'earned',
          kind: 'creator_share',
          clearSeconds,
        });
    }
    return user;
  }
  const withdraw = (userId: string, amount: number) => {
    const holdId = randomUUID();
    return ledger.hold({
      idempotencyKey: `withdrawal:${holdId}`,
      holdId,
      userId,
      amount,
      kind: 'withdrawal',
      to: 'withdrawals',
      expiresInSeconds: 3600,
      bucket: 'earned',
      withdrawableOnly: true,
    });
  };

  test('when the credits have not cleared, then the hold is refused with what is withdrawable', async () => {
    const user = await earner(300, 700);
    const refused = await withdraw(user.id, 301).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InsufficientWithdrawable);
    expect(refused).toMatchObject({ needed: 301, withdrawable: 300 });
    await expect(withdraw(user.id, 300)).resolves.toMatchObject({ amount: 300 });
    expect((await ledger.balance(user.id)).byBucket.earned).toMatchObject({ held: 300, withdrawable: 0 });
  });

  test('when withdrawals race for more than is withdrawable, then the holds never exceed it', async () => {
    const user = await earner(1000, 5000);
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => withdraw(user.id, 300)));
    const held = outcomes.filter((o) => o.status === 'fulfilled').length;
    expect(held).toBe(3);
    for (const o of outcomes)
      if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(InsufficientWithdrawable);
    expect((await ledger.balance(user.id)).byBucket.earned).toMatchObject({ held: 900, withdrawable: 100 });
  });

  test('when cleared, clearing, reversed, spent and held credits mix, then withdrawable is what its definition says at each step', async () => {
    // The definition, summed over the account's whole history: the cleared credits, less every
    // debit and what is held, plus the reversals of credits still clearing. The function reads
    // only the credits still clearing, from the posted balance.
    const byDefinition = async (userId: string) => {
      const [row] = await sql<{ account: number; defined: number; computed: number }[]>`
        SELECT a.id AS account, ledger_account_withdrawable(a.id)::int AS computed, greatest(0,
          coalesce((SELECT sum(t.amount) FROM transfers t
                    WHERE t.credit_account_id = a.id AND (t.clears_at IS NULL OR t.clears_at <= now())), 0)
          - coalesce((SELECT sum(t.amount) FROM transfers t WHERE t.debit_account_id = a.id), 0)
          + coalesce((SELECT sum(m.amount)
                      FROM (SELECT DISTINCT c.operation_key FROM transfers c
                            WHERE c.credit_account_id = a.id AND c.clears_at > now()) clearing
                      JOIN ledger_operations r ON r.reverses = clearing.operation_key
                      JOIN transfers m ON m.operation_key = r.idempotency_key AND m.debit_account_id = a.id), 0)
          - a.held)::int AS defined
        FROM accounts a WHERE a.user_id = ${userId} AND a.bucket = 'earned'`;
      return row!;
    };
    const steps: number[] = [];
    const check = async (userId: string) => {
      const { defined, computed } = await byDefinition(userId);
      expect(computed).toBe(defined);
      steps.push(computed);
    };
    const user = await earner(500, 300);
    await check(user.id);
    const { user: payer } = await fundedUser(sql, ledger, 100);
    const first = charge(payer.id, user.id, 40, 12);
    const second = charge(payer.id, user.id, 40, 12, 0);
    await ledger.debit(first.request);
    await ledger.debit(second.request);
    await check(user.id);
    await ledger.reverse({
      idempotencyKey: `reverse:${first.key}`,
      operationKey: first.key,
      kind: 'usage_reversal',
    });
    await check(user.id);
    await ledger.debit({
      idempotencyKey: `spend:${user.id}`,
      userId: user.id,
      amount: 150,
      kind: 'usage:conversation',
    });
    await check(user.id);
    await withdraw(user.id, 200);
    await check(user.id);
    // 500 + 12 cleared; the reversed share was still clearing; 150 spent; 200 held.
    expect(steps).toEqual([500, 512, 512, 362, 162]);
  });

  test('when it names no bucket, then it is refused as a mistake', async () => {
    const user = await earner(100, 0);
    const holdId = randomUUID();
    await expect(
      ledger.hold({
        idempotencyKey: `withdrawal:${holdId}`,
        holdId,
        userId: user.id,
        amount: 10,
        kind: 'withdrawal',
        expiresInSeconds: 60,
        withdrawableOnly: true,
      }),
    ).rejects.toThrow(/^bucket:/);
  });
});
