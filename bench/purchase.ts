/**
 * npm run bench:purchase — 200 purchases paid on the Stripe stand-in. For each: the time from
 * pressing Pay (the stand-in emits the signed webhook at that moment and delivers it at once)
 * to the credits being visible in GET /v1/balance. So each figure is an upper bound on
 * "webhook arrival → credits visible": it also holds the stand-in's delivery hop.
 */
import { randomUUID } from 'node:crypto';
import { type BenchStack, call, payCheckout, startBenchStack, startStarterPurchase } from './stack';
import { machine, percentile, runBench } from './support';

const PURCHASES = Number(process.env.BENCH_PURCHASES ?? 200);
const CONCURRENCY = 10;

async function onePurchase(stack: BenchStack): Promise<number> {
  const signUp = await fetch(`${stack.url}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `bench-${randomUUID()}@example.test` }),
  });
  const user = (await signUp.json()) as { apiKey: string };
  const checkoutUrl = await startStarterPurchase(stack, user.apiKey);
  const t0 = performance.now();
  await payCheckout(checkoutUrl);
  for (;;) {
    const balance = await call<{ available: number }>(`${stack.url}/v1/balance`, 'GET', user.apiKey);
    if (balance.body.available === 4500) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main() {
  // Polling Stripe every 60 s: every credit measured here came through the webhook.
  const stack = await startBenchStack({ executor: { taskMs: 0, usageBp: 10_000 }, pollIntervalSeconds: 60 });
  try {
    await onePurchase(stack); // warm-up
    const times: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < PURCHASES) {
          next++;
          times.push(await onePurchase(stack));
        }
      }),
    );
    const wall = performance.now() - t0;
    times.sort((a, b) => a - b);
    const conservation = await stack.services.ledger.conservation();
    console.log(`Machine: ${machine()}`);
    console.log(`Command: npm run bench:purchase (${PURCHASES} purchases, ${CONCURRENCY} at a time)\n`);
    console.log('| measure | value |');
    console.log('| --- | ---: |');
    console.log(`| Pay → credits visible in GET /v1/balance, p50 | ${percentile(times, 50).toFixed(0)} ms |`);
    console.log(`| p99 | ${percentile(times, 99).toFixed(0)} ms |`);
    console.log(`| max | ${times.at(-1)!.toFixed(0)} ms |`);
    console.log(
      `| purchases completed per second (sign-up + checkout + pay + credit) | ${(PURCHASES / (wall / 1000)).toFixed(1)} |`,
    );
    console.log(`\nConservation: ${JSON.stringify(conservation)}`);
  } finally {
    await stack.stop();
  }
}

runBench(main);
