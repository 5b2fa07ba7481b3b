import { createPool } from '../db/pool';
import type { StripeStandIn } from '../dev/stripe';
import type { Fleet } from './fleet';
import type { ChaosInfra } from './infra';
import type { Rng } from './rng';
import type { FaultWindows } from './windows';

export type FaultKind =
  | 'kill -9 worker'
  | 'kill -9 API'
  | 'Postgres restart'
  | 'backends terminated'
  | 'webhooks dropped'
  | 'webhooks duplicated ×10'
  | 'webhooks reordered';

/** Every kind but the Postgres restart, which happens exactly once per run. */
const REPEATABLE: readonly FaultKind[] = [
  'kill -9 worker',
  'kill -9 API',
  'backends terminated',
  'webhooks dropped',
  'webhooks duplicated ×10',
  'webhooks reordered',
];

export interface FaultRecord {
  kind: FaultKind;
  atSecond: number;
  detail: string;
}

export interface FaultDeps {
  infra: ChaosInfra;
  fleet: Fleet;
  standIn: StripeStandIn;
  windows: FaultWindows;
  rng: Rng;
  log(line: string): void;
  /** Shared with the load driver (FlowContext.webhookFaults): on during a webhook fault episode. */
  webhookFaults?: { active: boolean };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The run's faults in a random order: each kind at least once, more in a long run; Postgres restarted once. */
export function planFaults(rng: Rng, chaosSeconds: number): FaultKind[] {
  const rounds = Math.max(1, Math.floor(chaosSeconds / 90));
  const plan: FaultKind[] = ['Postgres restart'];
  for (let r = 0; r < rounds; r++) plan.push(...REPEATABLE);
  for (let i = plan.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [plan[i], plan[j]] = [plan[j]!, plan[i]!];
  }
  return plan;
}

/**
 * Injects `plan` one fault at a time, at random moments spread over `seconds`. Each fault
 * includes its repair (the killed process started again, Postgres started again), so the next
 * one meets a whole system. Returns what was done.
 */
export async function injectFaults(
  deps: FaultDeps,
  plan: FaultKind[],
  seconds: number,
): Promise<FaultRecord[]> {
  const startedMs = Date.now();
  const endMs = startedMs + seconds * 1000;
  const records: FaultRecord[] = [];
  for (let i = 0; i < plan.length; i++) {
    const slotMs = Math.max(0, endMs - Date.now()) / (plan.length - i);
    await sleep(slotMs * deps.rng.next() * 0.8);
    const kind = plan[i]!;
    const atSecond = Math.round((Date.now() - startedMs) / 1000);
    deps.log(`fault: ${kind}`);
    const detail = await inject(deps, kind);
    deps.log(`fault: ${kind}: ${detail}`);
    records.push({ kind, atSecond, detail });
    await sleep(Math.max(0, startedMs + ((i + 1) * seconds * 1000) / plan.length - Date.now()));
  }
  return records;
}

async function inject(deps: FaultDeps, kind: FaultKind): Promise<string> {
  switch (kind) {
    case 'kill -9 worker':
      return killAndRestart(deps, deps.rng.pick(deps.fleet.workers));
    case 'kill -9 API':
      return killAndRestart(deps, deps.rng.pick(deps.fleet.apis));
    case 'Postgres restart':
      return restartPostgres(deps);
    case 'backends terminated':
      return terminateBackends(deps);
    case 'webhooks dropped': {
      if (deps.webhookFaults) deps.webhookFaults.active = true;
      const n = deps.rng.int(2, 5);
      deps.standIn.faults.dropNext(n);
      return webhookEpisode(deps, `the next ${n} events`);
    }
    case 'webhooks duplicated ×10':
      if (deps.webhookFaults) deps.webhookFaults.active = true;
      deps.standIn.faults.duplicate(10);
      return webhookEpisode(deps, 'each event delivered 10 times');
    case 'webhooks reordered':
      if (deps.webhookFaults) deps.webhookFaults.active = true;
      deps.standIn.faults.reorder(1500);
      return webhookEpisode(deps, 'events batched for 1.5 s, delivered newest first');
  }
}

async function killAndRestart(deps: FaultDeps, process: Fleet['apis'][number]): Promise<string> {
  const pid = process.pid;
  await process.kill9();
  await sleep(deps.rng.int(200, 2000));
  const t0 = Date.now();
  await process.start();
  return `${process.spec.name} (pid ${pid}) killed, back in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

async function restartPostgres(deps: FaultDeps): Promise<string> {
  const close = deps.windows.begin('Postgres restart');
  const t0 = Date.now();
  try {
    await deps.infra.stopPostgres();
    await sleep(deps.rng.int(1000, 3000));
    await deps.infra.startPostgres();
  } finally {
    close();
  }
  return `down ${((Date.now() - t0) / 1000).toFixed(1)} s (stop, wait, start on the same data folder and port)`;
}

/** pg_terminate_backend on every client connection of the API and worker processes. */
async function terminateBackends(deps: FaultDeps): Promise<string> {
  const sql = createPool(deps.infra.databaseUrl, { max: 1, applicationName: 'chaos-injector' });
  const close = deps.windows.begin('backends terminated');
  try {
    const [row] = await sql<{ n: number }[]>`
      SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`;
    return `${row?.n ?? 0} backends terminated`;
  } finally {
    close();
    await sql.end({ timeout: 1 });
  }
}

/** A webhook fault stays on for a few seconds of traffic, then delivery is faultless again. */
async function webhookEpisode(deps: FaultDeps, what: string): Promise<string> {
  const ms = deps.rng.int(3000, 6000);
  await sleep(ms);
  deps.standIn.faults.reset();
  if (deps.webhookFaults) deps.webhookFaults.active = false;
  return `${what}, for ${(ms / 1000).toFixed(1)} s`;
}
