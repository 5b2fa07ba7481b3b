import { randomUUID } from 'node:crypto';
import type { DebitPath } from '../../app';
import {
  availableOf,
  charge,
  estimate,
  grant,
  type UsageEvent,
  type UsageResponse,
} from '../metering/support';
import { http, signUp, startTestApp, type TestApp } from '../support/app';

const EVENTS = 500;
const SHAPES: Omit<UsageEvent, 'eventId'>[] = [
  { feature: 'conversation' },
  { feature: 'conversation', outputTokens: 1000, model: 'advanced' },
  { feature: 'continuation', inputTokens: 2500 },
  { feature: 'rag', model: 'lite' },
  { feature: 'upskilling', trainingUnits: 1 },
];

describe.each<DebitPath>(['group-commit', 'one-transaction'])(
  '500 usage events at once (%s debit path)',
  (debitPath) => {
    let app: TestApp;
    let api: ReturnType<typeof http>;

    beforeAll(async () => {
      app = await startTestApp({ debitPath });
      api = http(app.url);
    });
    afterAll(() => app.close());

    test('when an account is funded for only some of them, then it never overdraws, each 201 is one transfer and each 402 moved nothing', async () => {
      const user = await signUp(api);
      const prices = await Promise.all(
        SHAPES.map(async (s) => (await estimate(api, user.apiKey, s)).body.credits),
      );
      const events = Array.from({ length: EVENTS }, (_, i) => ({
        ...SHAPES[i % SHAPES.length]!,
        eventId: `burst-${i}-${randomUUID()}`,
      }));
      const priceOf = (i: number) => prices[i % SHAPES.length]!;
      const wanted = events.reduce((sum, _, i) => sum + priceOf(i), 0);
      const funded = Math.floor(wanted * 0.4);
      await grant(api, user.id, funded);

      const results = await Promise.all(events.map((e) => charge(api, user.apiKey, e)));

      expect(new Set(results.map((r) => r.status))).toEqual(new Set([201, 402]));
      const ok = results.flatMap((r, i) => (r.status === 201 ? [{ i, body: r.body as UsageResponse }] : []));
      const refused = results.flatMap((r, i) => (r.status === 402 ? [i] : []));
      expect(ok.length + refused.length).toBe(EVENTS);

      // Each 201 charged the event's price and is exactly one ledger transfer of that amount.
      const keyOf = (i: number) => `usage:${user.id}:${events[i]!.eventId}`;
      const transfers = await app.sql<{ operation_key: string; amount: number }[]>`
      SELECT operation_key, amount FROM transfers WHERE operation_key = ANY(${events.map((_, i) => keyOf(i))}::text[])`;
      const byKey = new Map<string, number[]>();
      for (const t of transfers)
        byKey.set(t.operation_key, [...(byKey.get(t.operation_key) ?? []), t.amount]);
      for (const { i, body } of ok) {
        expect(body.charged).toBe(priceOf(i));
        expect(byKey.get(keyOf(i))).toEqual([priceOf(i)]);
      }
      // Each 402 moved nothing and left no record.
      for (const i of refused) expect(byKey.has(keyOf(i))).toBe(false);
      expect(transfers).toHaveLength(ok.length);
      const [records] = await app.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM ledger_operations WHERE idempotency_key = ANY(${refused.map(keyOf)}::text[])`;
      expect(records!.n).toBe(0);

      // Never overdrawn: what was charged is what left the account, and the rest could not pay any refused event.
      const spent = ok.reduce((sum, { body }) => sum + body.charged, 0);
      const left = await availableOf(api, user.apiKey);
      expect(left).toBe(funded - spent);
      expect(left).toBeGreaterThanOrEqual(0);
      expect(left).toBeLessThan(Math.min(...refused.map(priceOf)));

      // The balances the 201s reported are one serial history: each is the previous one minus its charge.
      const history = ok.map(({ body }) => body).sort((a, b) => b.balance - a.balance);
      let before = funded;
      for (const step of history) {
        expect(step.balance).toBe(before - step.charged);
        before = step.balance;
      }
      expect(before).toBe(left);
    });
  },
);
