import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { localStripe } from '../dev/local-stripe';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../dev/postgres';
import type { StripeStandIn } from '../dev/stripe';
import { startTemporalDevServer, type TemporalDevServer } from '../dev/temporal-server';

/**
 * What the production processes run against: one embedded Postgres (restartable on the same data
 * folder and port, so every process's DATABASE_URL stays valid), one Temporal dev server, and the
 * Stripe stand-in in this process (its fault controls are in-process calls).
 */
export interface ChaosInfra {
  databaseUrl: string;
  temporalAddress: string;
  standIn: StripeStandIn;
  stripe: { secretKey: string; webhookSecret: string; apiBase: string };
  /** Stops Postgres (fast shutdown: sessions are cut), then starts it again on the same port. */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  stop(): Promise<void>;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

export async function startChaosInfra(log: (line: string) => void): Promise<ChaosInfra> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'credits-chaos-'));
  let postgres: EmbeddedPostgresHandle | null = null;
  let temporal: TemporalDevServer | null = null;
  let standIn: StripeStandIn | null = null;
  const pgLog = (line: string) => {
    if (
      /FATAL|PANIC/.test(line) &&
      !/terminating connection|the database system is (shutting down|starting up)/.test(line)
    )
      log(`postgres: ${line.trim()}`);
  };
  const stop = async () => {
    await standIn?.stop().catch(() => {});
    await Promise.allSettled([postgres?.stop(), temporal?.stop()]);
    postgres = null;
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    [postgres, temporal] = await Promise.all([
      startEmbeddedPostgres({ dataDir, log: pgLog }),
      startTemporalDevServer({
        namespace: 'default',
        uiPort: null,
        cliPath: process.env.TEMPORAL_CLI_PATH || undefined,
      }),
    ]);
    // Faster retries than the default 500 ms: a webhook that met a killed API is retried soon.
    const stripe = await localStripe({ retryBaseMs: 250 });
    standIn = stripe.standIn!;
    const databaseUrl = postgres.url;
    return {
      databaseUrl,
      temporalAddress: temporal.address,
      standIn,
      stripe: { secretKey: stripe.secretKey, webhookSecret: stripe.webhookSecret, apiBase: standIn.url },
      stopPostgres: async () => {
        await postgres?.stop();
        postgres = null;
      },
      startPostgres: async () => {
        postgres = await startEmbeddedPostgres({ dataDir, preferredPort: portOf(databaseUrl), log: pgLog });
        if (postgres.url !== databaseUrl)
          throw new Error(`Postgres came back on another port: ${postgres.url}`);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
