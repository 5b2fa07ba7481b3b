import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import { SystemAccounts } from '../../db/ledger/accounts';
import { DebitBatcher } from '../../db/ledger/batcher';
import type { DebitRequest } from '../../db/ledger/types';
import type { Sql } from '../../db/pool';
import { ValidationError } from '../../domain';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger());
});
afterAll(() => closeTestLedger({ sql, ledger }));

describe('a debit Postgres could not store is refused before it joins a batch', () => {
  const cases: [string, string, (userId: string) => Partial<DebitRequest>][] = [
    ['NUL in the description', 'description', () => ({ description: 'a\u0000b' })],
    ['NUL in the kind', 'kind', () => ({ kind: 'usage:\u0000' })],
    ['a lone surrogate in the memo', 'memo', () => ({ memo: { note: 'half \ud800 a pair' } })],
    ['NUL deep in the memo', 'memo', () => ({ memo: { a: [{ b: 'x\u0000' }] } })],
    ['a user id that is no UUID', 'userId', () => ({ userId: 'not-a-user' })],
    [
      'a control character in the key',
      'idempotencyKey',
      () => ({ idempotencyKey: `k\u0001${randomUUID()}` }),
    ],
    ['a blank key', 'idempotencyKey', () => ({ idempotencyKey: '   ' })],
    ['an agent id too long', 'agentId', () => ({ agentId: 'a'.repeat(201) })],
    ['an unknown cause', 'cause.type', () => ({ cause: { type: 'lottery' as never, id: 'x' } })],
  ];
  test.each(cases)(
    'when it has %s, then ValidationError names %s and nothing moves',
    async (_, field, bad) => {
      const { user } = await fundedUser(sql, ledger, 100);
      const request = {
        idempotencyKey: randomUUID(),
        userId: user.id,
        amount: 10,
        kind: 'usage:rag',
        ...bad(user.id),
      };
      const error = await ledger.debit(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
      expect((await ledger.balance(user.id)).available).toBe(100);
    },
  );

  test('when a memo holds an escaped backslash before u0000 as text, then it is stored as given', async () => {
    const { user } = await fundedUser(sql, ledger, 100);
    const memo = { note: 'C:\\u0000 is a path, not a NUL' };
    const result = await ledger.debit({
      idempotencyKey: randomUUID(),
      userId: user.id,
      amount: 1,
      kind: 'x',
      memo,
    });
    expect(result.memo).toEqual(memo);
  });
});

test('when one debit in a batch fails inside Postgres, then the others still commit together, not one by one', async () => {
  const system = new SystemAccounts();
  await system.load(sql);
  const batcher = new DebitBatcher(sql, system, { maxBatch: 256, maxInFlight: 1 });
  try {
    const users = await Promise.all(Array.from({ length: 32 }, () => fundedUser(sql, ledger, 50)));
    const good = users.map(({ user }) => ({
      idempotencyKey: randomUUID(),
      userId: user.id,
      amount: 5,
      kind: 'test',
    }));
    // Past validation on purpose (straight to the batcher): Postgres refuses NUL in text.
    const bad = { ...good[0]!, idempotencyKey: randomUUID(), description: 'x\u0000y' };
    // The first debit leaves alone at once; the rest, the bad one last, wait and share a batch.
    const outcomes = await Promise.allSettled([...good, bad].map((r) => batcher.submit(r)));
    expect(outcomes.slice(0, 32).every((o) => o.status === 'fulfilled')).toBe(true);
    expect(outcomes[32]!.status).toBe('rejected');
    const [row] = await sql<{ transactions: number; transfers: number }[]>`
      SELECT count(DISTINCT xmin::text)::int AS transactions, count(*)::int AS transfers
      FROM transfers WHERE operation_key = ANY(${good.slice(1).map((g) => g.idempotencyKey)}::text[])`;
    expect(row!.transfers).toBe(31);
    // Halving finds the bad one in about 2·log2(32) commits; one by one it took 31.
    expect(row!.transactions).toBeLessThanOrEqual(12);
    for (const { user } of users) expect((await ledger.balance(user.id)).available).toBe(45);
  } finally {
    await batcher.close();
  }
});
