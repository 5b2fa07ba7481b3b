import { continueAsNew, proxyActivities, sleep } from '@temporalio/workflow';
import type { SweeperActivities } from '../activities';
import { sweeperActivity } from './activity-options';

const { sweepExpiredHolds } = proxyActivities<SweeperActivities>(sweeperActivity);

export interface HoldSweeperInput {
  intervalSeconds: number;
  /** Sweeps per run before continue-as-new keeps the history short. */
  sweepsPerRun?: number;
}

/**
 * Releases expired holds for the whole ledger on a timer. The ledger also releases a user's
 * expired holds lazily whenever it needs their credits; this sweep makes `held` honest for
 * everyone else too, and the run is visible in the Temporal Web UI.
 */
export async function holdSweeperWorkflow(input: HoldSweeperInput): Promise<void> {
  const sweeps = input.sweepsPerRun ?? 100;
  for (let i = 0; i < sweeps; i++) {
    await sweepExpiredHolds();
    await sleep(input.intervalSeconds * 1000);
  }
  await continueAsNew<typeof holdSweeperWorkflow>(input);
}
