import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createApp } from '../../api/app';
import { listen } from '../../api/server';
import {
  DEFAULT_EARNING_SETTINGS,
  type DebitPath,
  type EarningSettings,
  type ProjectSettings,
  type PurchaseSettings,
} from '../../app';
import { openRoot, type Root, type Services } from '../../composition/root';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { localStripe } from '../../dev/local-stripe';
import type { StripeStandIn } from '../../dev/stripe';
import { createLogger, LOG_LEVELS, type Logger } from '../../observability/logger';
import { checkAnswer } from './openapi-validator';

export const ADMIN_KEY = 'test-operator-key-0123456789';

/** How many of its last log lines a test file keeps. */
const KEPT_LOG_LINES = 5000;
let testLog: { logger: Logger; lines: string[]; failed: boolean } | undefined;

/**
 * Test runs are quiet unless a test fails: the apps and workers of a test file log (at LOG_LEVEL,
 * default info) into this buffer, which is printed to stderr after the file has run only if one
 * of its tests or hooks failed. Failures are seen through jest-circus's event handlers (the list
 * a custom environment's handleTestEvent joins); without them the buffer is never printed.
 */
export function testLogger(): Logger {
  if (testLog) return testLog.logger;
  const lines: string[] = [];
  const write = (line: string) => {
    lines.push(line);
    if (lines.length > 2 * KEPT_LOG_LINES) lines.splice(0, lines.length - KEPT_LOG_LINES);
  };
  const level = LOG_LEVELS.find((l) => l === process.env.LOG_LEVEL) ?? 'info';
  const log = { logger: createLogger({ level, destination: { write } }), lines, failed: false };
  testLog = log;
  type CircusEvent = { name: string; test?: { errors: unknown[] } };
  const file = path.relative(process.cwd(), expect.getState().testPath ?? 'this test file');
  const handlers = (globalThis as Record<symbol, unknown>)[Symbol.for('EVENT_HANDLERS')];
  if (Array.isArray(handlers)) {
    handlers.push((event: CircusEvent) => {
      if (event.name === 'hook_failure' || (event.name === 'test_done' && event.test!.errors.length > 0)) {
        log.failed = true;
      }
      if (event.name === 'run_finish' && log.failed && lines.length > 0) {
        const kept = lines.slice(-KEPT_LOG_LINES);
        process.stderr.write(
          `\n── a test failed in ${file}: its last ${kept.length} log lines ──\n${kept.join('')}`,
        );
      }
    });
  }
  return log.logger;
}

export interface TestApp {
  url: string;
  sql: Sql;
  ledger: Ledger;
  services: Services;
  temporal: Client;
  /** This app's own task queue: startTestWorker(app) polls it. */
  taskQueue: string;
  standIn: StripeStandIn;
  /** The app's composition root: test workers build their activities from it. */
  root: Root;
  close(): Promise<void>;
}

export interface TestAppOptions {
  adminApiKey?: string | undefined;
  debitPath?: DebitPath;
  poolSize?: number;
  purchases?: Partial<PurchaseSettings>;
  projects?: Partial<ProjectSettings>;
  earning?: Partial<EarningSettings>;
  /** The operator page links workflows to this Web UI. */
  temporalUiUrl?: string;
  /** Another Postgres than the run's (the fault tests stop and start their own). */
  databaseUrl?: string;
  /** Another Temporal than the run's, connected lazily (the fault tests point at a closed port). */
  temporalAddress?: string;
  /** The server's request deadline (api/server.ts REQUEST_DEADLINE_MS by default). */
  requestDeadlineMs?: number;
  /** Enables the agent runtime's callbacks (EXECUTOR_CALLBACK_SECRET); unset, they answer 403. */
  executorCallbackSecret?: string;
}

/** The real API on a free port, on the run's shared Postgres and Temporal, with a Stripe stand-in. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const stripe = await localStripe({ retryBaseMs: 50 });
  const standIn = stripe.standIn!;
  const root = await openRoot({
    databaseUrl: options.databaseUrl ?? process.env.DATABASE_URL!,
    poolSize: options.poolSize ?? 20,
    stripe,
    temporal: options.temporalAddress
      ? { address: options.temporalAddress, lazy: true }
      : { address: process.env.TEMPORAL_ADDRESS! },
    taskQueue: `test-${randomUUID()}`,
    settings: {
      purchases: { checkoutExpirySeconds: 1800, pollIntervalSeconds: 2, ...options.purchases },
      projects: { recheckSeconds: 2, tasksPerRun: 50, ...options.projects },
      // Earnings clear in a few seconds, so tests can withdraw what they earned.
      earning: { ...DEFAULT_EARNING_SETTINGS, clearingSeconds: 2, ...options.earning },
      debitPath: options.debitPath,
    },
    logger: testLogger(),
  });
  const { services, temporal, taskQueue } = root;
  const { sql, ledger } = services;
  const app = createApp(
    root.apiDeps({
      adminApiKey: 'adminApiKey' in options ? options.adminApiKey : ADMIN_KEY,
      temporalUiUrl: options.temporalUiUrl,
      executorCallbackSecret: options.executorCallbackSecret,
    }),
  );
  const server = await listen(app, 0, '127.0.0.1', { requestDeadlineMs: options.requestDeadlineMs });
  standIn.setWebhookUrl(`${server.url}/v1/webhooks/stripe`);
  return {
    url: server.url,
    sql,
    ledger,
    services,
    temporal,
    taskQueue,
    standIn,
    root,
    close: async () => {
      await standIn.stop();
      await server.close();
      await root.close();
    },
  };
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small HTTP client: JSON in and out, bearer auth, raw bodies for malformed-input tests. */
export function http(baseUrl: string) {
  async function call<T>(
    method: string,
    path: string,
    options: { key?: string; json?: unknown; raw?: string; headers?: Record<string, string> } = {},
  ): Promise<HttpResult<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key) headers.authorization = `Bearer ${options.key}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.raw !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = options.raw;
    }
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    if (res.headers.get('content-type')?.includes('json')) parsed = JSON.parse(text);
    // Every answer is checked against GET /openapi.json (OPENAPI_VALIDATE=off skips, =strict refuses undocumented fields).
    const final = new URL(res.url);
    if (!res.redirected || final.origin === new URL(baseUrl).origin) {
      checkAnswer({
        method: res.redirected ? 'GET' : method,
        path: res.redirected ? final.pathname + final.search : path,
        status: res.status,
        contentType: res.headers.get('content-type'),
        body: parsed,
      });
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }
  return {
    get: <T = Record<string, unknown>>(path: string, key?: string) => call<T>('GET', path, { key }),
    post: <T = Record<string, unknown>>(
      path: string,
      json: unknown,
      key?: string,
      headers?: Record<string, string>,
    ) => call<T>('POST', path, { key, json, headers }),
    raw: call,
  };
}

let n = 0;
export async function signUp(api: ReturnType<typeof http>) {
  n += 1;
  const res = await api.post<{ id: string; apiKey: string; email: string; referralCode: string }>(
    '/v1/users',
    {
      email: `api-${process.pid}-${Date.now()}-${n}@example.test`,
    },
  );
  if (res.status !== 201) throw new Error(`sign up failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
