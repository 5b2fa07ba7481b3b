import { autoTopUpFlow } from './flows/auto-top-ups';
import { budgetFlow } from './flows/budgets';
import type { FlowContext } from './flows/context';
import { runProject } from './flows/projects';
import { buy } from './flows/purchases';
import { capBurst, referralFlow } from './flows/referrals';
import { refundFlow } from './flows/refunds';
import { reversalFlow } from './flows/reversals';
import { usageBurst } from './flows/usage';
import { fundedUser, signUp } from './flows/users';
import { withdrawalFlow } from './flows/withdrawals';
import type { AutoTopUpRecord, ChaosUser, ProjectIntent, PurchaseIntent } from './journal';

const PROJECT_INTENTS: readonly ProjectIntent[] = [
  'complete',
  'cancel',
  'pause, top-up by grant',
  'pause, top-up by purchase',
];

/** Enough for a few hundred usage events each; some users get little, so 402s happen under load. */
const USAGE_CREDITS = 3000;
const POOR_CREDITS = 30;

/** Users who send usage, funded by grants before the load starts. */
export async function seedUsageUsers(ctx: FlowContext, count: number): Promise<ChaosUser[]> {
  const users = await Promise.all(
    Array.from({ length: count }, (_, i) => fundedUser(ctx, i % 4 === 3 ? POOR_CREDITS : USAGE_CREDITS)),
  );
  return users.filter((u): u is ChaosUser => u !== null);
}

async function oneFlow(ctx: FlowContext, usageUsers: ChaosUser[]): Promise<void> {
  const flow = ctx.rng.weighted({
    usage: 6,
    purchase: 2,
    project: 2,
    budget: 2,
    referral: 2,
    refund: 3,
    reversal: 2,
    'new usage user': 1,
  });
  if (flow === 'usage' && usageUsers.length > 0) return usageBurst(ctx, ctx.rng.pick(usageUsers), 10);
  if (flow === 'purchase') {
    const user = await signUp(ctx);
    const intent = ctx.rng.weighted<PurchaseIntent>({ paid: 4, declined: 1, 'paid twice': 1, abandoned: 1 });
    if (user) await buy(ctx, user, intent);
    return;
  }
  if (flow === 'project') return runProject(ctx, ctx.rng.pick(PROJECT_INTENTS));
  if (flow === 'budget') return budgetFlow(ctx);
  if (flow === 'referral') return referralFlow(ctx);
  if (flow === 'refund') return refundFlow(ctx);
  if (flow === 'reversal') return reversalFlow(ctx);
  const user = await fundedUser(ctx, ctx.rng.chance(0.3) ? POOR_CREDITS : USAGE_CREDITS);
  if (user) usageUsers.push(user);
}

/** Runs `flow` again and again until the deadline; a flow that throws (an answer the driver could not read) is recorded, never retried. */
async function actor(ctx: FlowContext, flow: () => Promise<void>): Promise<void> {
  while (Date.now() < ctx.deadlineMs) {
    try {
      await flow();
    } catch (error) {
      ctx.journal.driverErrors.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
    }
  }
}

/**
 * `actors` concurrent clients, each running one random flow after another until the deadline;
 * `withdrawers` more, each one creator after another earning and cashing out (those flows mostly
 * wait: for the clearing period, the operator, the payout); `autoTopUps.actors` more, each one
 * auto top-up user after another, the seeded ones first (they wait for each top-up); and at the
 * start, the capped referrer's referees all buying at once.
 */
export async function runLoad(
  ctx: FlowContext,
  usageUsers: ChaosUser[],
  actors: number,
  withdrawers: number,
  autoTopUps: { actors: number; seeded: AutoTopUpRecord[] },
): Promise<void> {
  await Promise.all([
    capBurst(ctx),
    ...Array.from({ length: actors }, () => actor(ctx, () => oneFlow(ctx, usageUsers))),
    ...Array.from({ length: withdrawers }, () => actor(ctx, () => withdrawalFlow(ctx))),
    ...Array.from({ length: autoTopUps.actors }, () =>
      actor(ctx, () => autoTopUpFlow(ctx, autoTopUps.seeded)),
    ),
  ]);
}
