import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger(30));
});
afterAll(() => closeTestLedger({ sql, ledger }));

type Op =
  | { type: 'credit'; user: number; amount: number; bucket: 'purchased' | 'earned' }
  | { type: 'debit'; user: number; amount: number; fast: boolean }
  | { type: 'hold'; user: number; amount: number }
  | { type: 'post'; hold: number; fraction: number }
  | { type: 'void'; hold: number }
  | { type: 'replay'; op: number };

const USERS = 3;
const amount = fc.integer({ min: 1, max: 400 });
const user = fc.integer({ min: 0, max: USERS - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    type: fc.constant('credit' as const),
    user,
    amount,
    bucket: fc.constantFrom('purchased' as const, 'earned' as const),
  }),
  fc.record({ type: fc.constant('debit' as const), user, amount, fast: fc.boolean() }),
  fc.record({ type: fc.constant('hold' as const), user, amount }),
  fc.record({
    type: fc.constant('post' as const),
    hold: fc.nat(),
    fraction: fc.double({ min: 0, max: 1, noNaN: true }),
  }),
  fc.record({ type: fc.constant('void' as const), hold: fc.nat() }),
  fc.record({ type: fc.constant('replay' as const), op: fc.nat() }),
);
/** Steps of 1 to 8 operations; the operations inside a step run concurrently. */
const program = fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 12 });

test('when random sequences of ledger operations run, concurrent ones included, then every invariant holds', async () => {
  await fc.assert(
    fc.asyncProperty(program, async (steps) => {
      const users = await Promise.all(Array.from({ length: USERS }, () => fundedUser(sql, ledger, 200)));
      const ids = users.map((u) => u.user.id);
      const holds: { id: string; amount: number }[] = [];
      /** The bare ledger calls of successful credits and debits: replaying them must move nothing. */
      const done: (() => Promise<unknown>)[] = [];
      const bare = new Map<() => Promise<unknown>, () => Promise<unknown>>();
      // What each user must hold, from the successful operations alone.
      const expected = ids.map(() => ({ posted: 200 }));

      const run = (o: Op): (() => Promise<unknown>) => {
        switch (o.type) {
          case 'credit': {
            const key = randomUUID();
            const call = () =>
              ledger.credit({
                idempotencyKey: key,
                userId: ids[o.user]!,
                amount: o.amount,
                bucket: o.bucket,
                from: 'grants',
                kind: 'p',
              });
            const exec = async () => {
              await call();
              expected[o.user]!.posted += o.amount;
            };
            bare.set(exec, call);
            return exec;
          }
          case 'debit': {
            const key = randomUUID();
            const debit = o.fast ? ledger.debit.bind(ledger) : ledger.debitAlone.bind(ledger);
            const call = () =>
              debit({ idempotencyKey: key, userId: ids[o.user]!, amount: o.amount, kind: 'p' });
            const exec = async () => {
              await call();
              expected[o.user]!.posted -= o.amount;
            };
            bare.set(exec, call);
            return exec;
          }
          case 'hold': {
            const holdId = randomUUID();
            return async () => {
              await ledger.hold({
                idempotencyKey: holdId,
                holdId,
                userId: ids[o.user]!,
                amount: o.amount,
                kind: 'p',
                expiresInSeconds: 600,
              });
              holds.push({ id: holdId, amount: o.amount });
            };
          }
          case 'post': {
            const key = randomUUID();
            return async () => {
              const h = holds[o.hold % Math.max(holds.length, 1)];
              if (!h) return;
              const r = await ledger.postHold({
                idempotencyKey: key,
                holdId: h.id,
                amount: Math.floor(h.amount * o.fraction),
              });
              const owner = (
                await sql<{ user_id: string }[]>`SELECT user_id FROM holds WHERE id = ${h.id}`
              )[0]!.user_id;
              expected[ids.indexOf(owner)]!.posted -= r.posted;
            };
          }
          case 'void': {
            const key = randomUUID();
            return async () => {
              const h = holds[o.hold % Math.max(holds.length, 1)];
              if (h) await ledger.voidHold({ idempotencyKey: key, holdId: h.id });
            };
          }
          case 'replay': {
            // Replaying an earlier successful operation must not change anything.
            return async () => {
              const earlier = done[o.op % Math.max(done.length, 1)];
              if (earlier) await earlier();
            };
          }
        }
      };

      for (const step of steps) {
        const calls = step.map(run);
        const results = await Promise.allSettled(calls.map((call) => call()));
        results.forEach((r, i) => {
          if (r.status === 'rejected') {
            const code = (r.reason as { code?: string }).code;
            // Only refusals a caller can cause are allowed: never a crash or a database error.
            expect(['insufficient_credits', 'hold_not_pending']).toContain(code);
          } else {
            const call = bare.get(calls[i]!);
            if (call) done.push(call);
          }
        });
        for (const [u, id] of ids.entries()) {
          const b = await ledger.balance(id);
          expect(b.available).toBeGreaterThanOrEqual(0);
          expect(b.posted).toBe(expected[u]!.posted);
        }
      }
      const report = await ledger.conservation();
      expect(report.sumPosted).toBe(0);
      expect(report.postedMismatches).toEqual([]);
      expect(report.heldMismatches).toEqual([]);
    }),
    { numRuns: 40 },
  );
});
