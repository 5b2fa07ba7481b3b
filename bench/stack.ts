import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { createActivities } from '../activities';
import { type SimulatorOptions, simulatedExecutor } from '../activities/executor';
import { createApp } from '../api/app';
import { listen } from '../api/server';
import { openServices, type Services } from '../config/services';
import { createTopUpNotifier } from '../config/top-up';
import { localStripe } from '../dev/local-stripe';
import { startInfrastructure } from '../dev/stack';
import type { StripeStandIn } from '../dev/stripe';
import { createWorker } from '../worker/worker';

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
  const services = await openServices({ databaseUrl: infra.databaseUrl, stripe, poolSize: 30 });
  const clientConnection = await Connection.connect({ address: infra.temporalAddress });
  const temporal = new Client({ connection: clientConnection, namespace: 'default' });
  const announceTopUp = createTopUpNotifier({ ...services, temporal });
  const taskQueue = `bench-${randomUUID()}`;
  const workerConnection = await NativeConnection.connect({ address: infra.temporalAddress });
  const worker = await createWorker({
    connection: workerConnection,
    namespace: 'default',
    taskQueue,
    activities: createActivities({
      ...services,
      announceTopUp,
      executor: simulatedExecutor(options.executor),
    }),
  });
  const running = worker.run();
  const adminKey = `bench-admin-${randomUUID()}`;
  const app = createApp({
    ...services,
    temporal,
    taskQueue,
    announceTopUp,
    adminApiKey: adminKey,
    purchases: { checkoutExpirySeconds: 1800, pollIntervalSeconds: options.pollIntervalSeconds ?? 15 },
    projects: { recheckSeconds: options.recheckSeconds ?? 30, tasksPerRun: 100 },
    log: () => {},
  });
  const server = await listen(app, 0, '127.0.0.1');
  stripe.standIn!.setWebhookUrl(`${server.url}/v1/webhooks/stripe`);
  return {
    url: server.url,
    services,
    temporal,
    standIn: stripe.standIn!,
    adminKey,
    stop: async () => {
      await stripe.standIn!.stop();
      await server.close();
      worker.shutdown();
      await running;
      await workerConnection.close();
      await clientConnection.close();
      await services.close();
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
