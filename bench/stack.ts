import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { type SimulatorOptions, simulatedExecutor } from '../activities/executor';
import { createApp } from '../api/app';
import { listen } from '../api/server';
import { openRoot, type Services } from '../composition/root';
import { startWorker } from '../composition/worker';
import { localStripe } from '../dev/local-stripe';
import { startInfrastructure } from '../dev/stack';
import type { StripeStandIn } from '../dev/stripe';

export interface BenchStack {
  url: string;
  services: Services;
  temporal: Client;
  standIn: StripeStandIn;
  adminKey: string;
  stop(): Promise<void>;
}

/**
 * The whole stack in this process, as `npm start` runs it: embedded Postgres and a Temporal dev
 * server in a temporary folder, the Stripe stand-in, the worker (simulated executor) and the API.
 */
export async function startBenchStack(options: {
  executor: SimulatorOptions;
  recheckSeconds?: number;
  pollIntervalSeconds?: number;
}): Promise<BenchStack> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'credits-bench-'));
  const infra = await startInfrastructure({
    dataDir,
    databaseUrl: process.env.DATABASE_URL,
    temporalAddress: process.env.TEMPORAL_ADDRESS,
    temporalNamespace: 'default',
    temporalPorts: { uiPort: null },
    persistTemporal: false,
  });
  const stripe = await localStripe({ retryBaseMs: 200 });
  const adminKey = `bench-admin-${randomUUID()}`;
  const root = await openRoot({
    databaseUrl: infra.databaseUrl,
    poolSize: 30,
    stripe,
    temporal: { address: infra.temporalAddress },
    taskQueue: `bench-${randomUUID()}`,
    settings: {
      purchases: { checkoutExpirySeconds: 1800, pollIntervalSeconds: options.pollIntervalSeconds ?? 15 },
      projects: { recheckSeconds: options.recheckSeconds ?? 30, tasksPerRun: 100 },
    },
  });
  const worker = await startWorker(root, { executor: simulatedExecutor(options.executor) });
  const app = createApp(root.apiDeps({ adminApiKey: adminKey, log: () => {} }));
  const server = await listen(app, 0, '127.0.0.1');
  stripe.standIn!.setWebhookUrl(`${server.url}/v1/webhooks/stripe`);
  return {
    url: server.url,
    services: root.services,
    temporal: root.temporal,
    standIn: stripe.standIn!,
    adminKey,
    stop: async () => {
      await stripe.standIn!.stop();
      await server.close();
      await worker.stop();
      await root.close();
      await infra.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** JSON over HTTP with a bearer key. */
export async function call<T>(
  url: string,
  method: string,
  key: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** Starts a Starter purchase for the user; its Checkout URL on the stand-in. */
export async function startStarterPurchase(stack: BenchStack, apiKey: string): Promise<string> {
  const started = await call<{ checkoutUrl: string }>(`${stack.url}/v1/purchases`, 'POST', apiKey, {
    packageId: 'starter',
  });
  if (started.status !== 201) throw new Error(`purchase: ${started.status}`);
  return started.body.checkoutUrl;
}

/** Pays a Checkout Session on the stand-in's page, as its form's "pay" button does. */
export async function payCheckout(checkoutUrl: string): Promise<void> {
  const paid = await fetch(checkoutUrl, {
    method: 'POST',
    body: new URLSearchParams({ action: 'pay' }),
    redirect: 'manual',
  });
  if (paid.status !== 303) throw new Error(`pay: ${paid.status}`);
}
