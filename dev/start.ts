import { DEFAULT_EARNING_SETTINGS } from '../app';
import '../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pretty from 'pino-pretty';
import { createApp } from '../api/app';
import { listen } from '../api/server';
import { buildExecutor } from '../composition/executor';
import { openRoot } from '../composition/root';
import { startWorker } from '../composition/worker';
import { loadEnvOrExit } from '../config/env';
import { executorSettings } from '../config/executor';
import { createLogger, type Logger, type LogLevel } from '../observability/logger';
import { ensureHoldSweeper } from '../workflows/starters';
import { localStripe } from './local-stripe';
import { surviveUnawaitedPostgresOutages } from './postgres-rejections';
import { startInfrastructure } from './stack';

/**
 * The logger of `npm start` (and only of it): the same lines as in production, made readable for
 * a person at a terminal by pino-pretty (a dev dependency) in this process. A request line reads
 * `POST /v1/usage 201 3.1 ms {"requestId":…,"userId":…}`.
 */
function prettyLogger(level: LogLevel): Logger {
  const stream = pretty({
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,method,route,status,latencyMs',
    singleLine: true,
    messageFormat: (log, messageKey) =>
      log.route === undefined || log.status === undefined
        ? String(log[messageKey])
        : `${String(log.method)} ${String(log.route)} ${String(log.status)} ${String(log.latencyMs)} ms`,
  });
  return createLogger({ level, destination: stream });
}

/**
 * `npm start`: the whole stack on one machine with no configuration. Whatever is configured
 * (DATABASE_URL, TEMPORAL_ADDRESS) is used instead of the embedded part. Ctrl-C stops it all.
 */
async function main(): Promise<void> {
  const env = loadEnvOrExit();
  const logger = prettyLogger(env.LOG_LEVEL);
  const started = Date.now();
  const say = (line: string) => console.log(`[start] ${line}`);
  const cleanups: (() => Promise<unknown>)[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e) => console.error(e));
    process.exit(code);
  };
  // Handlers first: a Ctrl-C during start-up still stops whatever has started by then.
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  surviveUnawaitedPostgresOutages((message, error) => logger.warn({ err: error }, message));
  say('starting Postgres and Temporal…');
  const infra = await startInfrastructure({
    dataDir: path.resolve(env.DATA_DIR),
    databaseUrl: env.DATABASE_URL,
    temporalAddress: env.TEMPORAL_ADDRESS,
    temporalNamespace: env.TEMPORAL_NAMESPACE,
    temporalCliPath: env.TEMPORAL_CLI_PATH,
    temporalPorts: { port: 7233, uiPort: 8233 },
    persistTemporal: true,
    log: (line) => {
      if (/error|fatal|panic/i.test(line) && !/level=info/.test(line)) process.stderr.write(line);
    },
    // Embedded Postgres that dies (kill -9, a crash) is started again; the API answers 503
    // meanwhile. If it cannot be, everything stops with one line rather than sitting broken.
    postgresSupervisor: {
      report: say,
      gaveUp: (error) => {
        console.error(`[start] ${error.message}; stopping everything.`);
        void stop(1);
      },
    },
  });
  cleanups.push(() => infra.stop());
  try {
    const stripe = await localStripe({
      secretKey: env.STRIPE_SECRET_KEY,
      webhookSecret: env.STRIPE_WEBHOOK_SECRET,
    });
    if (stripe.standIn) cleanups.push(() => stripe.standIn!.stop());
    const root = await openRoot({
      logger,
      databaseUrl: infra.databaseUrl,
      smtpUrl: env.SMTP_URL,
      stripe,
      temporal: { address: infra.temporalAddress, namespace: env.TEMPORAL_NAMESPACE },
      settings: {
        projects: { recheckSeconds: env.PROJECT_RECHECK_SECONDS, tasksPerRun: 100 },
        earning: {
          ...DEFAULT_EARNING_SETTINGS,
          clearingSeconds: env.EARNINGS_CLEARING_SECONDS,
          publicUrl: env.PUBLIC_URL,
        },
      },
    });
    cleanups.push(() => root.close());
    const executor = executorSettings(env);
    const worker = await startWorker(root, { executor: buildExecutor(executor, root.services.sql) });
    cleanups.push(() => worker.stop());
    await ensureHoldSweeper(root.temporal);

    const adminApiKey = env.ADMIN_API_KEY ?? `dev_admin_${randomBytes(16).toString('hex')}`;
    const app = createApp(
      root.apiDeps({
        adminApiKey,
        temporalUiUrl: infra.temporalUiUrl ?? undefined,
        executorCallbackSecret: env.EXECUTOR_CALLBACK_SECRET,
      }),
    );
    const server = await listen(app, env.PORT, env.HOST);
    cleanups.push(() => server.close());
    stripe.standIn?.setWebhookUrl(`${server.url}/v1/webhooks/stripe`);

    say(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(`API:             ${server.url}   (health: ${server.url}/healthz)`);
    say(`Credits page:    ${server.url}/usercredits`);
    say(`Temporal Web UI: ${infra.temporalUiUrl ?? '(external Temporal: use its own UI)'}`);
    say(`Temporal:        ${infra.temporalAddress} (${infra.temporalSource})`);
    say(`Postgres:        ${infra.databaseUrl}`);
    say(
      `Stripe:          ${stripe.standIn ? `${stripe.standIn.url} (local stand-in; card 4242 4242 4242 4242 pays)` : 'api.stripe.com'}`,
    );
    say(
      `Mail:            ${root.services.mailer.transport === 'smtp' ? 'SMTP' : `outbox (${server.url}/v1/notifications)`}`,
    );
    if (!env.ADMIN_API_KEY) say(`Operator key:    ${adminApiKey}   (set ADMIN_API_KEY to choose one)`);
    if (executor.kind === 'http') say(`Executor:        agent runtime at ${executor.url}`);
    say('Ctrl-C stops everything.');
  } catch (error) {
    console.error(error);
    await stop(1);
  }
}

main().catch((error: unknown) => {
  // startInfrastructure has already stopped whatever it started.
  console.error(`[start] failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
