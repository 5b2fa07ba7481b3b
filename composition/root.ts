/**
 * The composition root: the one place that builds the system's services (pool, ledger, metrics,
 * rate cards, mailer, Stripe client, Temporal client), the use cases on them (app/), the
 * activities (composition/worker.ts adds the worker, so the API never loads it). The API (api/main.ts), the worker (worker/main.ts), `npm start`
 * (dev/start.ts), the benches and the test helpers all open it instead of wiring by hand, so
 * they run the same graph and differ only in configuration.
 */
import { Client } from '@temporalio/client';
import type Stripe from 'stripe';
import { type Activities, createActivities } from '../activities';
import type { TaskExecutor } from '../activities/executor';
import type { AppDeps } from '../api/app';
import { createUseCases, DEFAULT_SETTINGS, type UseCaseSettings, type UseCases } from '../app';
import { createStripeClient, type StripeEndpoint } from '../config/stripe';
import type { Ledger } from '../db/ledger';
import { closePool, type Sql } from '../db/pool';
import { RateCards } from '../db/rate-cards';
import { createMailer, type Mailer } from '../mail/mailer';
import { defaultLogger, errorLog, type Logger } from '../observability/logger';
import { Metrics } from '../observability/metrics';
import { TASK_QUEUE } from '../workflows/messages';
import { openLedger } from './ledger';
import { connectTemporal } from './temporal-connection';

export { openLedger } from './ledger';

/** The infrastructure clients every process shares. */
export interface Services {
  sql: Sql;
  ledger: Ledger;
  metrics: Metrics;
  rateCards: RateCards;
  mailer: Mailer;
  stripe: Stripe;
  stripeWebhookSecret: string;
}

export interface RootOptions {
  databaseUrl: string;
  poolSize?: number | undefined;
  smtpUrl?: string | undefined;
  stripe: { secretKey: string; webhookSecret: string; endpoint?: StripeEndpoint | undefined };
  /** `lazy`: connect on first use (bench:usage runs the API without any Temporal server). */
  temporal: { address: string; namespace?: string | undefined; lazy?: boolean | undefined };
  /** Where workflows are started and polled; tests give each app its own queue. */
  taskQueue?: string | undefined;
  settings?: Partial<UseCaseSettings> | undefined;
  /**
   * The process's logger (observability/logger.ts): request lines, best-effort failures (a lost
   * top-up signal or notice), the worker's runtime. Default: defaultLogger() (LOG_LEVEL, stdout).
   */
  logger?: Logger | undefined;
}

export interface Root {
  services: Services;
  logger: Logger;
  temporal: Client;
  /** The Temporal frontend (`host:port`), for a worker's own connection (composition/worker.ts). */
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  useCases: UseCases;
  /** The same use cases with other settings, on the same services (bench:usage's baseline path). */
  useCasesWith(settings: Partial<UseCaseSettings>): UseCases;
  /** What createApp (api/app.ts) takes: these services and use cases, plus the API's own settings. */
  apiDeps(
    options: Pick<AppDeps, 'adminApiKey' | 'log' | 'temporalUiUrl'> &
      Partial<Pick<AppDeps, 'logger' | 'executorCallbackSecret'>>,
  ): AppDeps;
  /** Every activity, on this root's services and use cases, with the given task executor. */
  activities(executor: TaskExecutor): Activities;
  /** Closes the Temporal client, then the ledger's own connection, then the pool. */
  close(): Promise<void>;
}

export async function openRoot(options: RootOptions): Promise<Root> {
  const logger = options.logger ?? defaultLogger();
  const log = errorLog(logger);
  const metrics = new Metrics();
  const { sql, ledger } = await openLedger(options.databaseUrl, {
    poolSize: options.poolSize,
    observer: metrics.ledgerObserver,
  });
  const services: Services = {
    sql,
    ledger,
    metrics,
    rateCards: new RateCards(sql),
    mailer: createMailer(sql, options.smtpUrl),
    stripe: createStripeClient(options.stripe.secretKey, options.stripe.endpoint),
    stripeWebhookSecret: options.stripe.webhookSecret,
  };
  const namespace = options.temporal.namespace ?? 'default';
  const connection = await connectTemporal(options.temporal);
  const temporal = new Client({ connection, namespace });
  const taskQueue = options.taskQueue ?? TASK_QUEUE;
  const baseSettings: UseCaseSettings = { ...DEFAULT_SETTINGS, ...options.settings };
  const useCasesWith = (settings: Partial<UseCaseSettings>) =>
    createUseCases({ ...services, temporal, taskQueue, log }, { ...baseSettings, ...settings });
  const useCases = useCasesWith({});
  const activities = (executor: TaskExecutor) =>
    createActivities({
      ...services,
      balanceEvents: useCases.balanceEvents,
      earning: baseSettings.earning,
      executor,
    });

  return {
    services,
    logger,
    temporal,
    temporalAddress: options.temporal.address,
    namespace,
    taskQueue,
    useCases,
    useCasesWith,
    apiDeps: (api) => ({ ...services, logger, temporal, namespace, taskQueue, useCases, ...api }),
    activities,
    async close() {
      await connection.close();
      await ledger.close();
      await closePool(sql);
    },
  };
}
