/**
 * npm run bench:auto-top-up — auto top-up's latency on the real stack (embedded Postgres, a
 * Temporal dev server, the worker, the API, the Stripe stand-in), DESIGN.md §13. For each of N
 * users: buy the starter package through Checkout (which saves the card), turn auto top-up on
 * below 4,000 credits, then send the one usage charge that crosses it. Measured: from sending
 * that charge to the package's credits being available in GET /v1/balance. That span holds the
 * debit itself, the crossing check, signal-with-start of the user's auto top-up workflow, the
 * automatic purchase under the setting's lock, the off-session PaymentIntent on the stand-in and
 * the ledger credit, and the polling of GET /v1/balance (every 20 ms: faster polling by ten
 * clients at once is most of the API's load on a small machine, and slows what it measures).
 * The ledger's own clock gives the second figure: from the crossing debit's transfer to the
 * top-up's credit transfer (their transactions' timestamps), with no HTTP and no polling.
 */
import { randomUUID } from 'node:crypto';
import { type BenchStack, call, payCheckout, startBenchStack, startStarterPurchase } from './stack';
import { machine, percentile, runBench } from './support';

const USERS = Number(process.env.BENCH_USERS ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);
const BELOW = 4000;
const STARTER_CREDITS = 4500;
const POLL_MS = Number(process.env.BENCH_POLL_MS ?? 20);

/** A user who bought the starter package through Checkout, card saved, auto top-up on below 4,000. */
async function preparedUser(stack: BenchStack): Promise<{ id: string; apiKey: string }> {
  const signUp = await fetch(`${stack.url}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `bench-${randomUUID()}@example.test` }),
  });
  const user = (await signUp.json()) as { id: string; apiKey: string };
  await payCheckout(await startStarterPurchase(stack, user.apiKey));
  // The card is saved when the purchase is credited.
  for (;;) {
    const [row] = await stack.services.sql<{ payment_method_id: string | null }[]>`
      SELECT payment_method_id FROM stripe_customers WHERE user_id = ${user.id}`;
    if (row?.payment_method_id) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const saved = await call(`${stack.url}/v1/settings`, 'PUT', user.apiKey, {
    autoTopUp: { enabled: true, belowCredits: BELOW, packageId: 'starter', monthlyLimitCents: 100_000 },
  });
  if (saved.status !== 200) throw new Error(`settings: ${saved.status} ${JSON.stringify(saved.body)}`);
  return user;
}

/** Sends the crossing charge; resolves with the time until the top-up's credits are available. */
async function crossAndWait(stack: BenchStack, user: { apiKey: string }): Promise<number> {
  const t0 = performance.now();
  // 30 training units: 600 credits on the launch rate card, from 4,500 to 3,900 (below 4,000).
  const charged = await call<{ balance: number }>(`${stack.url}/v1/usage`, 'POST', user.apiKey, {
    feature: 'upskilling',
    eventId: randomUUID(),
    trainingUnits: 30,
  });
  if (charged.status !== 201 || charged.body.balance >= BELOW)
    throw new Error(`the charge did not cross: ${charged.status} ${JSON.stringify(charged.body)}`);
  const expected = charged.body.balance + STARTER_CREDITS;
  for (;;) {
    const balance = await call<{ available: number }>(`${stack.url}/v1/balance`, 'GET', user.apiKey);
    if (balance.body.available >= expected) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Crossing debit → top-up credit on the ledger's clock, for every completed automatic purchase. */
async function ledgerTimes(stack: BenchStack, userIds: string[]): Promise<number[]> {
  const rows = await stack.services.sql<{ ms: number }[]>`
    SELECT (extract(epoch FROM (
      (SELECT min(created_at) FROM transfers WHERE operation_key = 'auto-top-up:' || p.payment_intent_id) -
      (SELECT min(created_at) FROM transfers WHERE operation_key = p.crossing_key))) * 1000)::float8 AS ms
    FROM purchases p
    WHERE p.origin = 'auto_top_up' AND p.status = 'completed' AND p.user_id = ANY(${userIds}::uuid[])`;
  return rows.map((r) => r.ms).sort((a, b) => a - b);
}

async function main() {
  // Polling Stripe every 60 s: every Checkout credit here came through the webhook.
  const stack = await startBenchStack({ executor: { taskMs: 0, usageBp: 10_000 }, pollIntervalSeconds: 60 });
  try {
    const warm = await preparedUser(stack);
    await crossAndWait(stack, warm);
    const users: { id: string; apiKey: string }[] = [];
    let made = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (made < USERS) {
          made++;
          users.push(await preparedUser(stack));
        }
      }),
    );
    const times: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < users.length) {
          const user = users[next++]!;
          times.push(await crossAndWait(stack, user));
        }
      }),
    );
    const wall = performance.now() - t0;
    times.sort((a, b) => a - b);
    // The purchase row is completed right after the credit it waited for: let the last ones land.
    for (let i = 0; i < 100; i++) {
      const [pending] = await stack.services.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM purchases WHERE origin = 'auto_top_up' AND status = 'pending'`;
      if (pending!.n === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ledger = await ledgerTimes(
      stack,
      users.map((u) => u.id),
    );
    const [counts] = await stack.services.sql<{ completed: number; other: number }[]>`
      SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
             count(*) FILTER (WHERE status <> 'completed')::int AS other
      FROM purchases WHERE origin = 'auto_top_up'`;
    const conservation = await stack.services.ledger.conservation();
    console.log(`Machine: ${machine()}`);
    console.log(
      `Command: npm run bench:auto-top-up (${users.length} users, ${CONCURRENCY} crossings at a time; BENCH_USERS, BENCH_CONCURRENCY)\n`,
    );
    console.log('| measure | value |');
    console.log('| --- | ---: |');
    console.log(
      `| crossing charge sent → top-up credits available in GET /v1/balance, p50 | ${percentile(times, 50).toFixed(0)} ms |`,
    );
    console.log(`| p99 | ${percentile(times, 99).toFixed(0)} ms |`);
    console.log(`| max | ${times.at(-1)!.toFixed(0)} ms |`);
    console.log(
      `| crossing debit → top-up credit, on the ledger's clock, p50 | ${percentile(ledger, 50).toFixed(0)} ms |`,
    );
    console.log(`| p99 | ${percentile(ledger, 99).toFixed(0)} ms |`);
    console.log(`| top-ups completed per second | ${(users.length / (wall / 1000)).toFixed(1)} |`);
    console.log(
      `\nAutomatic purchases: ${counts!.completed} completed, ${counts!.other} other (expected ${users.length + 1} completed).`,
    );
    console.log(`Conservation: ${JSON.stringify(conservation)}`);
  } finally {
    await stack.stop();
  }
}

runBench(main);
