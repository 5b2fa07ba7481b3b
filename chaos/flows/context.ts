import type { StripeStandIn } from '../../dev/stripe';
import type { ApiClient } from '../http';
import type { Journal } from '../journal';
import type { Rng } from '../rng';
import type { Stats } from '../stats';

/** What every flow of the load driver works with. */
export interface FlowContext {
  api: ApiClient;
  journal: Journal;
  stats: Stats;
  rng: Rng;
  standIn: StripeStandIn;
  adminKey: string;
  /** Epoch ms after which a flow starts nothing new. */
  deadlineMs: number;
  /**
   * True while the fault injector has webhook faults on (drop, duplicate, reorder): a flow that
   * uses the stand-in's webhook fault controls itself waits for it to be false.
   */
  webhookFaults: { active: boolean };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `seconds`, or fewer when the load's deadline comes first: a flow waits no longer than the load
 * runs, so the run does not outlast its faults; the settle phase waits for what is left.
 */
export function withinLoad(ctx: FlowContext, seconds: number): number {
  return Math.max(0, Math.min(seconds, (ctx.deadlineMs - Date.now()) / 1000));
}
