import type { FlowContext } from './flows/context';
import { chargeUsage } from './flows/usage';
import { fundedUser } from './flows/users';
import { ApiClient } from './http';
import type { ChaosUser } from './journal';
import type { FaultWindows } from './windows';

export interface ThroughputPhase {
  apis: number;
  seconds: number;
  charges: number;
  perSecond: number;
  p99Ms: number;
}

const CALLERS = 32;
const USERS = 16;
const CREDITS = 1_000_000;

/** `CALLERS` clients charging usage back to back against `targets` for `seconds`. */
async function phase(
  ctx: FlowContext,
  users: ChaosUser[],
  targets: string[],
  windows: FaultWindows,
  seconds: number,
): Promise<ThroughputPhase> {
  const api = new ApiClient(() => targets, ctx.stats, windows);
  const phaseCtx: FlowContext = { ...ctx, api };
  const latencies: number[] = [];
  let charges = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      for (let i = 0; performance.now() < until; i++) {
        const started = performance.now();
        const record = await chargeUsage(phaseCtx, users[(caller + i) % users.length]!);
        latencies.push(performance.now() - started);
        if (record.outcome === 'charged') charges++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    apis: targets.length,
    seconds: elapsed,
    charges,
    perSecond: charges / elapsed,
    p99Ms: latencies[Math.max(0, Math.ceil(latencies.length * 0.99) - 1)] ?? Number.NaN,
  };
}

/**
 * Usage charges per second through one API process, then through all of them, twice in turn
 * (1, all, 1, all) in the same run on the same stack, before any fault: how the API tier scales
 * out on this machine. Alternating keeps a slow spell of a shared machine from favouring one side.
 */
export async function measureThroughput(
  ctx: FlowContext,
  apiUrls: string[],
  windows: FaultWindows,
  seconds: number,
): Promise<ThroughputPhase[]> {
  const users = (await Promise.all(Array.from({ length: USERS }, () => fundedUser(ctx, CREDITS)))).filter(
    (u): u is ChaosUser => u !== null,
  );
  if (users.length === 0) throw new Error('throughput phase: no user could be funded');
  await phase(ctx, users, apiUrls, windows, 1); // warm-up: JIT, pools, the rate card cache
  const phases: ThroughputPhase[] = [];
  for (let round = 0; round < 2; round++) {
    phases.push(await phase(ctx, users, apiUrls.slice(0, 1), windows, seconds));
    phases.push(await phase(ctx, users, apiUrls, windows, seconds));
  }
  return phases;
}

/** Charges per second by number of API processes, over all phases with that many. */
export function perApiCount(phases: ThroughputPhase[]): { apis: number; perSecond: number }[] {
  const counts = [...new Set(phases.map((p) => p.apis))].sort((a, b) => a - b);
  return counts.map((apis) => {
    const mine = phases.filter((p) => p.apis === apis);
    const charges = mine.reduce((s, p) => s + p.charges, 0);
    const secs = mine.reduce((s, p) => s + p.seconds, 0);
    return { apis, perSecond: charges / secs };
  });
}
