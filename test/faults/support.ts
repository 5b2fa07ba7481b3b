import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { migrate } from '../../db/migrate';
import { createPool } from '../../db/pool';
import type { HttpResult } from '../support/app';
import { READY_PREFIX } from './postgres-process';

const ROOT = path.resolve(__dirname, '../..');

/** Starts test/faults/postgres-process.ts on `dataDir` (and `port`), resolves with it and its URL. */
function spawnPostgres(dataDir: string, port: number): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'),
      path.join(__dirname, 'postgres-process.ts'),
      dataDir,
      String(port),
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Postgres did not start in 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.startsWith(READY_PREFIX));
      if (line) {
        clearTimeout(timer);
        resolve({ child, url: line.slice(READY_PREFIX.length).trim() });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Postgres process exited (${code}):\n${output}`));
    });
  });
}

/**
 * A Postgres of this test file's own, in a temp folder, migrated: the fault tests stop and start
 * it without disturbing the other test files, which share the run's. It runs in a child process
 * (postgres-process.ts) and comes back on the same port, so the app's pool finds it again.
 */
export class OwnPostgres {
  private constructor(
    private readonly dir: string,
    private readonly port: number,
    private child: ChildProcess | null,
    readonly url: string,
  ) {}

  static async start(): Promise<OwnPostgres> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'credits-faults-'));
    const { child, url } = await spawnPostgres(dir, 0);
    const admin = createPool(url, { max: 1 });
    try {
      await migrate(admin);
    } finally {
      await admin.end();
    }
    return new OwnPostgres(dir, Number(new URL(url).port), child, url);
  }

  /** Stops the server (a fast shutdown: open connections are ended, the port closes). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** kill -9 of the postmaster (`postgres -D <dir>/postgres`): its process starts it again. */
  killServer(): void {
    const out = execSync('ps -eo pid,args', { encoding: 'utf8' });
    const line = out.split('\n').find((l) => l.includes(`-D ${path.join(this.dir, 'postgres')}`));
    if (!line) throw new Error(`no postgres running under ${this.dir}`);
    process.kill(Number(line.trim().split(/\s+/)[0]), 'SIGKILL');
  }

  /** Starts it again on the same port and data. */
  async restart(): Promise<void> {
    const { child, url } = await spawnPostgres(this.dir, this.port);
    this.child = child;
    if (url !== this.url) throw new Error(`Postgres came back on ${url}, not ${this.url}`);
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface Timed<T> {
  result: T;
  ms: number;
}

export async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
  const started = performance.now();
  const result = await work();
  return { result, ms: Math.round(performance.now() - started) };
}

/** What a client sees of a 503: status, error code, Retry-After, and how long it waited. */
export function unavailableView(answer: Timed<HttpResult<unknown>>) {
  const body = answer.result.body as { error?: { code?: string } } | undefined;
  return {
    status: answer.result.status,
    code: body?.error?.code,
    retryAfter: answer.result.headers.get('retry-after'),
    fast: answer.ms < 5000,
  };
}

export const UNAVAILABLE = { status: 503, code: 'unavailable', retryAfter: '5', fast: true };

/** Polls `attempt` until it returns non-null, at most `timeoutMs`. */
export async function until<T>(
  what: string,
  attempt: () => Promise<T | null>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A TCP proxy in front of a Postgres that can freeze: connections stay open but nothing passes
 * either way (it is held, and passed on at thaw), as when the database host stops answering (a
 * network partition, a stalled VM). Nothing fails then; only the request deadline can answer.
 */
export class FreezableProxy {
  private frozen = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((client) => this.connect(client));

  private constructor(
    private readonly targetPort: number,
    private readonly targetHost: string,
  ) {}

  /** Listens on `port` (0: any free one) and forwards to `targetHost:targetPort`. */
  static async start(
    targetPort: number,
    options: { port?: number; targetHost?: string } = {},
  ): Promise<FreezableProxy> {
    const proxy = new FreezableProxy(targetPort, options.targetHost ?? '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(options.port ?? 0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The database URL `url` with this proxy in its place. */
  urlFor(url: string): string {
    const through = new URL(url);
    through.port = String(this.port);
    return through.toString();
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    for (const pass of this.held.splice(0)) pass();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, this.targetHost);
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  private forward(from: net.Socket, to: net.Socket): void {
    this.sockets.add(from);
    from.on('data', (chunk: Buffer) => {
      const pass = () => to.write(chunk);
      if (this.frozen) this.held.push(pass);
      else pass();
    });
    from.on('error', () => to.destroy());
    from.on('close', () => {
      this.sockets.delete(from);
      to.destroy();
    });
  }
}
