import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Sql } from '../../db/pool';
import { CLEARING_SECONDS } from '../fleet';
import type {
  ChaosUser,
  DecisionPhase,
  DecisionRecord,
  WithdrawalAsk,
  WithdrawalRecord,
  WithdrawalRequestRecord,
  WithdrawalScenario,
} from '../journal';
import { publishAgent } from './agents';
import { type FlowContext, sleep } from './context';
import { chargeUsage } from './usage';
import { fundedUser } from './users';

/** The smallest withdrawal (EarningSettings.withdrawals.minimumCredits). */
export const MIN_WITHDRAWAL = 1000;
/** What one credit pays out, in cents (EarningSettings.withdrawals.creditValueCents). */
export const CREDIT_VALUE_CENTS = 1;
/** Rate card v1: 20 credits a training unit, so 8,000 credits, of which the creator's 30% share is 2,400. */
const UPSKILL_UNITS = 400;
const PAYER_CREDITS = 8000;
export const FINAL_STATUSES: ReadonlySet<string> = new Set(['paid', 'rejected', 'failed', 'expired']);

const payoutAccount = z.object({
  accountId: z.string().min(1),
  onboardingUrl: z.url(),
  payoutsEnabled: z.boolean(),
});
const withdrawal = z.object({
  id: z.uuid(),
  credits: z.number().int().positive(),
  amountCents: z.number().int().positive(),
  currency: z.string().length(3),
  status: z.enum(['pending_approval', 'paid', 'rejected', 'failed', 'expired']),
});
const balance = z.object({
  buckets: z.object({ earned: z.object({ withdrawable: z.number().int().min(0) }) }),
});

const ASK_KIND: Record<WithdrawalAsk, string> = {
  withdrawal: 'withdrawal',
  'before clearing': 'withdrawal (before clearing)',
  'over the withdrawable': 'withdrawal (over the withdrawable)',
  'two at once': 'withdrawal (two at once)',
};

/**
 * The creator's Stripe Connect account: POST /v1/payout-account, then onboarding finished on the
 * stand-in's hosted page (a form POSTing action=complete, as a browser would) or, half the time,
 * through the stand-in's handle. Null when the API never answered.
 */
async function openPayoutAccount(ctx: FlowContext, user: ChaosUser): Promise<string | null> {
  const answer = await ctx.api.call({
    kind: 'payout account',
    method: 'POST',
    path: '/v1/payout-account',
    key: user.apiKey,
  });
  if (answer.status !== 200 && answer.status !== 201) return null;
  const account = payoutAccount.parse(answer.body);
  let onboarded = false;
  if (ctx.rng.chance(0.5)) {
    const res = await fetch(account.onboardingUrl, {
      method: 'POST',
      body: new URLSearchParams({ action: 'complete' }),
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    ctx.stats.record('onboarding (stand-in page)', res.status < 400 ? '2xx' : 'other 4xx');
    onboarded = res.status === 303;
  }
  if (!onboarded) {
    ctx.standIn.completeOnboarding(account.accountId);
    ctx.stats.record('onboarding (stand-in handle)', '2xx');
  }
  return account.accountId;
}

/** Sends (or sends again) one POST /v1/withdrawals under its Idempotency-Key and records the answer. */
async function send(ctx: FlowContext, request: WithdrawalRequestRecord, kind: string): Promise<void> {
  const answer = await ctx.api.call({
    kind,
    method: 'POST',
    path: '/v1/withdrawals',
    key: request.user.apiKey,
    body: { credits: request.credits },
    idempotencyKey: request.key,
  });
  request.status = answer.status;
  request.answeredAtMs = Date.now();
  if (answer.status !== 201 && answer.status !== 200) return;
  const made = withdrawal.parse(answer.body);
  if (request.id !== undefined && request.id !== made.id)
    ctx.journal.idempotencyMismatches.push(`withdrawal key ${request.key}: ${request.id} then ${made.id}`);
  request.id = made.id;
  request.amountCents = made.amountCents;
  if (!ctx.journal.withdrawals.has(made.id))
    ctx.journal.withdrawals.set(made.id, {
      id: made.id,
      user: request.user,
      accountId: request.accountId,
      credits: made.credits,
      scenario: request.scenario,
      transferFault: false,
      decisions: [],
    });
}

async function ask(
  ctx: FlowContext,
  user: ChaosUser,
  accountId: string,
  credits: number,
  what: WithdrawalAsk,
  scenario: WithdrawalScenario,
  earnedSentAtMs?: number,
): Promise<WithdrawalRecord | undefined> {
  const request: WithdrawalRequestRecord = {
    user,
    accountId,
    key: `chaos-withdrawal-${randomUUID()}`,
    credits,
    ask: what,
    scenario,
    status: 0,
    sentAtMs: Date.now(),
    answeredAtMs: 0,
    ...(earnedSentAtMs === undefined ? {} : { earnedSentAtMs }),
  };
  ctx.journal.withdrawalRequests.push(request);
  await send(ctx, request, ASK_KIND[what]);
  if (request.id !== undefined && what === 'withdrawal' && ctx.rng.chance(0.2))
    await send(ctx, request, 'withdrawal (same key)');
  return request.id === undefined ? undefined : ctx.journal.withdrawals.get(request.id);
}

/**
 * The operator's decision (POST /v1/admin/withdrawals/:id/approve or /reject): retried while no
 * answer comes, or sent once (`once`) when racing another decision. An approval sent while the
 * account's transfers are made to fail marks the withdrawal: its payout must fail.
 */
export async function decide(
  ctx: FlowContext,
  w: WithdrawalRecord,
  decision: 'approve' | 'reject',
  phase: DecisionPhase,
  once = false,
): Promise<DecisionRecord> {
  if (decision === 'approve' && ctx.journal.faultedAccounts.has(w.accountId)) w.transferFault = true;
  const spec = {
    kind: `withdrawal ${decision}${phase === 'first' ? '' : ` (${phase})`}`,
    method: 'POST' as const,
    path: `/v1/admin/withdrawals/${w.id}/${decision}`,
    key: ctx.adminKey,
    body: decision === 'reject' ? { reason: 'chaos: the operator said no' } : {},
  };
  const record: DecisionRecord = {
    decision,
    phase,
    status: 0,
    sentAtMs: Date.now(),
    answeredAtMs: 0,
    afterA200: w.decisions.some((d) => d.status === 200),
  };
  w.decisions.push(record);
  const answer = once ? await ctx.api.once(spec) : await ctx.api.call(spec);
  record.status = answer.status;
  record.answeredAtMs = Date.now();
  if (answer.status === 200 && withdrawal.parse(answer.body).id !== w.id)
    ctx.journal.driverErrors.push(`decision on ${w.id} answered another withdrawal`);
  return record;
}

/**
 * Polls GET /v1/withdrawals/:id as its owner until it is final, up to `seconds` and no longer
 * than the load's deadline (the settle phase waits for the rest).
 */
async function waitFinal(
  ctx: FlowContext,
  w: WithdrawalRecord,
  seconds: number,
): Promise<string | undefined> {
  const until = Math.min(Date.now() + seconds * 1000, ctx.deadlineMs);
  while (Date.now() < until) {
    const answer = await ctx.api.once({
      kind: 'withdrawal status',
      method: 'GET',
      path: `/v1/withdrawals/${w.id}`,
      key: w.user.apiKey,
    });
    if (answer.status === 200) {
      const status = withdrawal.parse(answer.body).status;
      if (FINAL_STATUSES.has(status)) {
        w.seenFinal = status;
        return status;
      }
    }
    await sleep(300);
  }
  return undefined;
}

/** GET /v1/balance until the earned bucket's withdrawable credits reach `atLeast`; null if they never do. */
async function withdrawable(
  ctx: FlowContext,
  user: ChaosUser,
  atLeast: number,
  seconds: number,
): Promise<number | null> {
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const answer = await ctx.api.once({
      kind: 'balance',
      method: 'GET',
      path: '/v1/balance',
      key: user.apiKey,
    });
    if (answer.status === 200) {
      const credits = balance.parse(answer.body).buckets.earned.withdrawable;
      if (credits >= atLeast) return credits;
    }
    await sleep(300);
  }
  return null;
}

/** A withdrawal that was to be refused but was made (its answer came late, after the credits cleared): paid out. */
async function approveUnexpected(ctx: FlowContext, w: WithdrawalRecord | undefined): Promise<boolean> {
  if (!w) return true;
  await decide(ctx, w, 'approve', 'first');
  return (await waitFinal(ctx, w, 15)) !== undefined;
}

/**
 * A creator earns and cashes out: publishes an agent that only this flow names, opens and
 * onboards a payout account; a payer (granted credits) is charged for upskilling with that agent,
 * so the creator earns 2,400 credits that clear after CLEARING_SECONDS. A withdrawal asked at
 * once (before clearing) and one above what is withdrawable must be refused (402). Then one
 * scenario: approved, rejected, approved with the transfer made to fail, decided twice (the
 * second must be a 409), approve racing reject (one wins), or two withdrawals at once that
 * together exceed the withdrawable credits (one is held). A rejected or failed withdrawal's
 * credits are withdrawable again: half the time they are withdrawn once more.
 */
export async function withdrawalFlow(ctx: FlowContext): Promise<void> {
  const agent = await publishAgent(ctx, 'chaos earner', true);
  if (!agent) return;
  const creator = agent.creator;
  const accountId = await openPayoutAccount(ctx, creator);
  if (!accountId) return;
  const payer = await fundedUser(ctx, PAYER_CREDITS);
  if (!payer) return;
  const earnedSentAtMs = Date.now();
  const charge = await chargeUsage(ctx, payer, {
    kind: 'usage (upskilling, earner agent)',
    body: { feature: 'upskilling', trainingUnits: UPSKILL_UNITS, agentId: agent.id },
  });
  if (charge.charged === undefined) return;
  const early = await ask(
    ctx,
    creator,
    accountId,
    MIN_WITHDRAWAL,
    'before clearing',
    'approve',
    earnedSentAtMs,
  );
  let quiet = await approveUnexpected(ctx, early);
  // The load is over: the earnings stay unwithdrawn (a creator may keep them).
  if (Date.now() >= ctx.deadlineMs) return;
  await sleep(CLEARING_SECONDS * 1000);
  const available = await withdrawable(ctx, creator, MIN_WITHDRAWAL, 15);
  if (available === null) return;
  // Well above: project tasks may pick this creator's agent too, and their small shares keep clearing.
  const over = await ask(
    ctx,
    creator,
    accountId,
    available + MIN_WITHDRAWAL,
    'over the withdrawable',
    'approve',
  );
  quiet = (await approveUnexpected(ctx, over)) && quiet;
  // Transfers to the account fail only while none of its other withdrawals is still under way.
  const scenario = ctx.rng.weighted<
    Exclude<WithdrawalScenario, 'again after release' | 'unknown to the driver'>
  >({
    approve: 3,
    reject: 2,
    'transfer fails': quiet ? 2 : 0,
    'decided twice': 2,
    'approve races reject': 2,
    'two at once': 2,
  });
  if (scenario === 'two at once') {
    const now = await withdrawable(ctx, creator, MIN_WITHDRAWAL, 15);
    // Each within the withdrawable credits, both together well above them.
    if (now !== null && Math.ceil(now * 0.6) >= MIN_WITHDRAWAL)
      return twoAtOnce(ctx, creator, accountId, now);
    return;
  }
  const credits = ctx.rng.int(MIN_WITHDRAWAL, available);
  const w = await ask(ctx, creator, accountId, credits, 'withdrawal', scenario);
  if (!w) return; // unanswered: the settle phase sends it again and decides it
  if (scenario === 'transfer fails') {
    ctx.journal.faultedAccounts.add(accountId);
    ctx.standIn.transferFaults.failDestinations.add(accountId);
  }
  const either = () => (ctx.rng.chance(0.5) ? 'approve' : 'reject');
  if (scenario === 'approve' || scenario === 'transfer fails') await decide(ctx, w, 'approve', 'first');
  else if (scenario === 'reject') await decide(ctx, w, 'reject', 'first');
  else if (scenario === 'decided twice') {
    if ((await decide(ctx, w, either(), 'first')).status === 200) await decide(ctx, w, either(), 'second');
  } else {
    await Promise.all([decide(ctx, w, 'approve', 'race', true), decide(ctx, w, 'reject', 'race', true)]);
  }
  const final = await waitFinal(ctx, w, 20);
  if (final === undefined) return; // the settle phase lifts the transfer fault once it is final
  if (scenario === 'transfer fails') {
    ctx.standIn.transferFaults.failDestinations.delete(accountId);
    ctx.journal.faultedAccounts.delete(accountId);
  }
  if ((final === 'rejected' || final === 'failed') && Date.now() < ctx.deadlineMs && ctx.rng.chance(0.5)) {
    const again = await ask(ctx, creator, accountId, credits, 'withdrawal', 'again after release');
    if (again) {
      await decide(ctx, again, 'approve', 'first');
      await waitFinal(ctx, again, 15);
    }
  }
}

/** Two withdrawals at once, each within the withdrawable credits but not both: one is held, the other refused. */
async function twoAtOnce(ctx: FlowContext, creator: ChaosUser, accountId: string, available: number) {
  const each = Math.ceil(available * 0.6);
  const made = await Promise.all([
    ask(ctx, creator, accountId, each, 'two at once', 'two at once'),
    ask(ctx, creator, accountId, each, 'two at once', 'two at once'),
  ]);
  for (const w of made) {
    if (!w) continue;
    await decide(ctx, w, 'approve', 'first');
    await waitFinal(ctx, w, 15);
  }
}

// ── The settle phase's part: every withdrawal asked for gets an answer, a decision, an end ────────

/** Requests that never got an answer are sent again under their key: a withdrawal made but not started is started. */
export async function resendUnanswered(ctx: FlowContext): Promise<number> {
  const unanswered = ctx.journal.withdrawalRequests.filter((r) => r.status === 0 || r.status >= 500);
  for (const request of unanswered) {
    request.resentAtSettle = true;
    try {
      await send(ctx, request, 'withdrawal (re-sent at settle)');
    } catch (error) {
      ctx.journal.driverErrors.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
    }
  }
  return unanswered.length;
}

/** Do not send another decision for a withdrawal within this long of the last one. */
const DECISION_RETRY_MS = 3000;

/**
 * Every withdrawal still waiting for the operator (in the database, known to the driver or not)
 * is decided: as its scenario planned (a rejection stays a rejection), else approved. A decision
 * that answered 200 is in the workflow's hands; one that did not is sent again after a while.
 * Then transfer faults are lifted from accounts with nothing left under way. Returns what waits.
 */
export async function decidePending(ctx: FlowContext, sql: Sql): Promise<string[]> {
  const pending = await sql<{ id: string; user_id: string; destination: string; credits: number }[]>`
    SELECT id, user_id, destination, credits FROM withdrawals WHERE status = 'pending_approval'`;
  for (const row of pending) {
    let w = ctx.journal.withdrawals.get(row.id);
    if (!w) {
      w = {
        id: row.id,
        user: { id: row.user_id, apiKey: '' },
        accountId: row.destination,
        credits: row.credits,
        scenario: 'unknown to the driver',
        transferFault: false,
        decisions: [],
      };
      ctx.journal.withdrawals.set(row.id, w);
    }
    const last = w.decisions.at(-1);
    if (w.decisions.some((d) => d.status === 200)) continue;
    if (last && Date.now() - Math.max(last.sentAtMs, last.answeredAtMs) < DECISION_RETRY_MS) continue;
    try {
      await decide(ctx, w, w.scenario === 'reject' ? 'reject' : 'approve', 'settle');
    } catch (error) {
      ctx.journal.driverErrors.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
    }
  }
  const busy = new Set(pending.map((p) => p.destination));
  for (const account of [...ctx.journal.faultedAccounts]) {
    if (busy.has(account)) continue;
    ctx.standIn.transferFaults.failDestinations.delete(account);
    ctx.journal.faultedAccounts.delete(account);
  }
  return pending.map((p) => `withdrawal ${p.id} pending_approval`);
}
