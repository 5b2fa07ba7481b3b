import { randomUUID } from 'node:crypto';
import type { DebitRequest, Ledger } from '../../db/ledger';
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

/**
 * ledger_debit_batch answers a batch of one with its own few scalar statements and a batch of
 * many with set operations: both must decide, store and post exactly alike. Each scenario runs
 * in two identical worlds, alone (the one-request path) and behind another user's debit (the
 * general path), and compares the answers, the stored records and the transfers written.
 */
describe('when a batch holds one request', () => {
  interface World {
    payer: string;
    creator: string;
  }
  type Scenario = (world: World, key: string) => DebitRequest;

  async function world(
    purchased: number,
    earned: number,
    heldCredits = 0,
    holdSeconds = 600,
  ): Promise<World> {
    const { user } = await fundedUser(sql, ledger, purchased);
    if (earned > 0) await grantCredits(ledger, user.id, earned, 'earned');
    if (heldCredits > 0)
      await ledger.hold({
        idempotencyKey: randomUUID(),
        holdId: randomUUID(),
        userId: user.id,
        amount: heldCredits,
        kind: 'test',
        expiresInSeconds: holdSeconds,
      });
    const { user: creator } = await fundedUser(sql, ledger, 0);
    return { payer: user.id, creator: creator.id };
  }

  /** What a debit left in the ledger, with the worlds' own ids replaced by their roles. */
  async function written(w: World, key: string) {
    const [op] = await sql<{ result: Record<string, unknown> }[]>`
      SELECT result FROM ledger_operations WHERE idempotency_key = ${key}`;
    const legs = await sql`
      SELECT t.kind, t.amount, t.description, t.agent_id, t.cause_type, t.cause_id,
             t.clears_at IS NOT NULL AS clears, t.hold_id,
             CASE WHEN d.user_id = ${w.payer} THEN 'payer:' || d.bucket
                  WHEN d.system_name IS NOT NULL THEN 'system:' || d.system_name END AS from_account,
             CASE WHEN c.user_id = ${w.creator} THEN 'creator:' || c.bucket
                  WHEN c.system_name IS NOT NULL THEN 'system:' || c.system_name END AS to_account
      FROM transfers t JOIN accounts d ON d.id = t.debit_account_id JOIN accounts c ON c.id = t.credit_account_id
      WHERE t.operation_key = ${key} ORDER BY t.id`;
    return { result: op?.result ?? null, legs: [...legs] };
  }

  async function bothPaths(
    setup: () => Promise<World>,
    scenario: Scenario,
    twice?: (request: DebitRequest) => DebitRequest,
  ) {
    const outcomes = [];
    for (const alone of [true, false]) {
      const w = await setup();
      const key = `k:${randomUUID()}`;
      const request = scenario(w, key);
      const { user: other } = await fundedUser(sql, ledger, 10);
      const filler = { idempotencyKey: randomUUID(), userId: other.id, amount: 1, kind: 'test' };
      const run = async (req: DebitRequest) => {
        const settled = await debitMany(
          sql,
          system,
          alone ? [req] : [filler, { ...filler, idempotencyKey: randomUUID() }, req],
        );
        const mine = settled.at(-1)!;
        if (mine.ok) return mine.value;
        // The error's fields (needed, available, code), without the world's own key.
        const { key: _key, ...fields } = mine.error as Error & { key?: string };
        return { error: mine.error.constructor.name, ...fields };
      };
      const answers = [await run(request)];
      if (twice) answers.push(await run(twice(request)));
      // A payer with no accounts has no balance to compare.
      const balance = await ledger.balance(w.payer).catch(() => null);
      outcomes.push({ answers, balance, ...(await written(w, key)) });
    }
    expect(outcomes[0]).toStrictEqual(outcomes[1]);
    return outcomes[0]!;
  }

  const usage = (w: World, key: string, amount: number, extra: Partial<DebitRequest> = {}): DebitRequest => ({
    idempotencyKey: key,
    userId: w.payer,
    amount,
    kind: 'usage:conversation',
    description: 'conversation (rate card v1)',
    memo: { eventId: 'event-1', breakdown: [{ item: 'base', credits: amount }] },
    cause: { type: 'usage_event', id: 'event-1' },
    ...extra,
  });

  test('when it spans two buckets, then both paths take them in spending order and store the same record', async () => {
    const out = await bothPaths(
      () => world(20, 20),
      (w, key) => usage(w, key, 30),
    );
    expect(out.answers[0]).toMatchObject({
      availableAfter: 10,
      legs: [
        { bucket: 'purchased', amount: 20 },
        { bucket: 'earned', amount: 10 },
      ],
    });
    expect(out.legs.map((l) => [l.from_account, l.to_account, l.amount])).toEqual([
      ['payer:purchased', 'system:usage', 20],
      ['payer:earned', 'system:usage', 10],
    ]);
  });

  test('when it takes the whole balance, then both paths leave exactly zero', async () => {
    const out = await bothPaths(
      () => world(25, 15),
      (w, key) => usage(w, key, 40),
    );
    expect(out.answers[0]).toMatchObject({ availableAfter: 0 });
  });

  test('when it pays a creator a share, then both paths write the charge and the share as one operation', async () => {
    const out = await bothPaths(
      () => world(50, 0),
      (w, key) =>
        usage(w, key, 10, { agentId: 'agent-x', share: { userId: w.creator, amount: 3, clearSeconds: 60 } }),
    );
    expect(
      out.legs.map((l) => [l.kind, l.from_account, l.to_account, l.amount, l.agent_id, l.clears]),
    ).toEqual([
      ['usage:conversation', 'payer:purchased', 'system:usage', 10, 'agent-x', false],
      ['creator_share', 'system:usage', 'creator:earned', 3, 'agent-x', true],
    ]);
  });

  test('when the balance cannot cover it, then both paths refuse it the same way and write nothing', async () => {
    const out = await bothPaths(
      () => world(20, 20),
      (w, key) => usage(w, key, 41),
    );
    expect(out.answers[0]).toMatchObject({ error: 'InsufficientCredits', needed: 41, available: 40 });
    expect(out).toMatchObject({ result: null, legs: [] });
  });

  test('when the payer has no accounts, then both paths answer not found', async () => {
    const nobody = randomUUID();
    const out = await bothPaths(
      () => world(0, 0),
      (_w, key) => ({ idempotencyKey: key, userId: nobody, amount: 1, kind: 'test' }),
    );
    expect(out.answers[0]).toMatchObject({ error: 'NotFound' });
  });

  test('when it is sent again, then both paths replay it; with another amount, both refuse it', async () => {
    const replayed = await bothPaths(
      () => world(20, 0),
      (w, key) => usage(w, key, 5),
      (request) => request,
    );
    expect(replayed.answers[1]).toStrictEqual({ ...replayed.answers[0], replayed: true });
    const conflicting = await bothPaths(
      () => world(20, 0),
      (w, key) => usage(w, key, 5),
      (request) => ({ ...request, amount: 6 }),
    );
    expect(conflicting.answers[1]).toMatchObject({ error: 'IdempotencyConflict' });
  });

  test('when the payer is also the share receiver, then both paths pay the share into their earned bucket', async () => {
    const out = await bothPaths(
      () => world(20, 0),
      (w, key) =>
        usage(w, key, 10, { agentId: 'agent-x', share: { userId: w.payer, amount: 3, clearSeconds: 0 } }),
    );
    expect(out.legs.map((l) => [l.kind, l.from_account, l.amount])).toEqual([
      ['usage:conversation', 'payer:purchased', 10],
      ['creator_share', 'system:usage', 3],
    ]);
    expect(out.balance).toMatchObject({ available: 13 });
  });

  test('when the share receiver has no accounts, then both paths charge without a share', async () => {
    const nobody = randomUUID();
    const out = await bothPaths(
      () => world(20, 0),
      (w, key) =>
        usage(w, key, 10, { agentId: 'agent-x', share: { userId: nobody, amount: 3, clearSeconds: 0 } }),
    );
    expect(out.legs.map((l) => l.kind)).toEqual(['usage:conversation']);
  });

  test('when it carries no memo, then both paths store the same record without one', async () => {
    const out = await bothPaths(
      () => world(20, 0),
      (w, key) => ({ idempotencyKey: key, userId: w.payer, amount: 4, kind: 'test' }),
    );
    expect(out.result).toEqual({ amount: 4, availableAfter: 16, legs: [{ bucket: 'purchased', amount: 4 }] });
  });

  test('when the payer’s hold has expired, then both paths release it and spend the credits it held', async () => {
    const out = await bothPaths(
      async () => {
        const w = await world(30, 0, 25, 1);
        await new Promise((resolve) => setTimeout(resolve, 1100));
        return w;
      },
      (w, key) => usage(w, key, 26),
    );
    expect(out.answers[0]).toMatchObject({ availableAfter: 4 });
  });

  test('when the payer has credits on hold, then both paths spend only what is not held', async () => {
    const out = await bothPaths(
      () => world(30, 0, 25),
      (w, key) => usage(w, key, 6),
    );
    expect(out.answers[0]).toMatchObject({ error: 'InsufficientCredits', available: 5 });
  });
});
