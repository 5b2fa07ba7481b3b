import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Ledger } from '../db/ledger';
import { migrate } from '../db/migrate';
import { createPool, type Sql } from '../db/pool';
import { createUser } from '../db/users';
import { startEmbeddedPostgres } from '../dev/postgres';

/** One line describing where the numbers came from, for BENCHMARKS.md. */
export function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
}

export interface BenchDatabase {
  url: string;
  pool(max: number): Sql;
  stop(): Promise<void>;
}

/**
 * DATABASE_URL when set, else a throw-away embedded Postgres (fsync on, as in production),
 * started with `settings` (server settings, e.g. for profiling).
 */
export async function benchDatabase(settings?: Record<string, string>): Promise<BenchDatabase> {
  const external = process.env.DATABASE_URL;
  let url = external ?? '';
  let stop = async () => {};
  if (!external) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'credits-bench-'));
    const pg = await startEmbeddedPostgres({ dataDir: dir, ...(settings ? { settings } : {}) });
    url = pg.url;
    stop = async () => {
      await pg.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const admin = createPool(url, { max: 1 });
  await migrate(admin);
  await admin.end();
  return { url, pool: (max) => createPool(url, { max }), stop };
}

/** `count` new users, each granted `credits`, created 50 at a time. */
export async function fundedUsers(
  sql: Sql,
  ledger: Ledger,
  count: number,
  credits: number,
): Promise<{ id: string; apiKey: string }[]> {
  const users: { id: string; apiKey: string }[] = [];
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, async () => {
        const { user, apiKey } = await createUser(sql, { email: `bench-${randomUUID()}@example.test` });
        await ledger.credit({
          idempotencyKey: `bench-fund:${user.id}`,
          userId: user.id,
          amount: credits,
          from: 'grants',
          kind: 'grant',
        });
        return { id: user.id, apiKey };
      }),
    );
    users.push(...batch);
  }
  return users;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

/** Runs `callers` loops of `op` for `seconds`; returns operations done, failures and latencies. */
export async function closedLoop(
  callers: number,
  seconds: number,
  op: (caller: number, i: number) => Promise<unknown>,
): Promise<{ done: number; failed: number; elapsedMs: number; latenciesMs: number[] }> {
  const deadline = performance.now() + seconds * 1000;
  const latenciesMs: number[] = [];
  let done = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const t0 = performance.now();
        try {
          await op(caller, i);
          done++;
        } catch {
          failed++;
        }
        latenciesMs.push(performance.now() - t0);
      }
    }),
  );
  latenciesMs.sort((a, b) => a - b);
  return { done, failed, elapsedMs: performance.now() - started, latenciesMs };
}

/** Runs a benchmark's main and exits: the stack's handles must not keep the process alive. */
export function runBench(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
