import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { migrate } from '../db/migrate';
import { closePool, createPool } from '../db/pool';
import { type PostgresSupervisor, startEmbeddedPostgres } from './postgres';
import { startTemporalDevServer } from './temporal-server';

export interface Infrastructure {
  databaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | null;
  temporalSource: string;
  stop(): Promise<void>;
}

export interface InfrastructureOptions {
  dataDir: string;
  databaseUrl?: string;
  temporalAddress?: string;
  temporalNamespace: string;
  temporalCliPath?: string;
  /** npm start wants the Web UI on 8233 and Temporal on 7233; tests take free ports and no UI. */
  temporalPorts: { port?: number; uiPort?: number | null };
  persistTemporal: boolean;
  log?: (line: string) => void;
  /** Restarts the embedded Postgres when it dies (npm start); without one a death is left alone. */
  postgresSupervisor?: PostgresSupervisor;
}

/**
 * Brings up what is not configured: embedded Postgres unless DATABASE_URL, the Temporal dev
 * server unless TEMPORAL_ADDRESS. Both start in parallel; migrations are applied before returning.
 */
export async function startInfrastructure(options: InfrastructureOptions): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    await Promise.allSettled(stops.reverse().map((stop) => stop()));
  };
  try {
    // Both servers keep state under it; Temporal's SQLite file needs the folder to exist already.
    await mkdir(options.dataDir, { recursive: true });
    const [postgres, temporal] = await Promise.all([
      options.databaseUrl
        ? { url: options.databaseUrl }
        : startEmbeddedPostgres({
            dataDir: options.dataDir,
            log: options.log,
            ...(options.postgresSupervisor ? { supervise: options.postgresSupervisor } : {}),
          }).then((pg) => {
            stops.push(pg.stop);
            return pg;
          }),
      options.temporalAddress
        ? { address: options.temporalAddress, uiUrl: null, source: 'TEMPORAL_ADDRESS' }
        : startTemporalDevServer({
            cliPath: options.temporalCliPath,
            namespace: options.temporalNamespace,
            ...options.temporalPorts,
            dbFile: options.persistTemporal ? path.resolve(options.dataDir, 'temporal.db') : undefined,
            log: options.log,
          }).then((server) => {
            stops.push(server.stop);
            return server;
          }),
    ]);
    const sql = createPool(postgres.url, { max: 1 });
    try {
      await migrate(sql);
    } finally {
      await closePool(sql);
    }
    return {
      databaseUrl: postgres.url,
      temporalAddress: temporal.address,
      temporalUiUrl: temporal.uiUrl,
      temporalSource: temporal.source,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
