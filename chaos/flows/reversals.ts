import type { ReversalAttemptRecord, UsageEventRecord } from '../journal';
import type { FlowContext } from './context';
import { chargeUsage } from './usage';
import { fundedUser } from './users';

const CREDITS = 2000;

/** One POST /v1/usage/:eventId/reversal by the event's owner, retried while no answer comes. */
async function reverse(
  ctx: FlowContext,
  event: UsageEventRecord,
  how: ReversalAttemptRecord['how'],
  kind: string,
): Promise<ReversalAttemptRecord> {
  const afterAnswered = ctx.journal.reversals.some(
    (r) =>
      r.eventId === event.eventId && r.user.id === event.user.id && (r.status === 200 || r.status === 201),
  );
  const record: ReversalAttemptRecord = {
    user: event.user,
    eventId: event.eventId,
    charged: event.charged!,
    how,
    status: 0,
    afterAnswered,
  };
  ctx.journal.reversals.push(record);
  await send(ctx, record, kind);
  return record;
}

async function send(ctx: FlowContext, record: ReversalAttemptRecord, kind: string): Promise<void> {
  const answer = await ctx.api.call({
    kind,
    method: 'POST',
    path: `/v1/usage/${record.eventId}/reversal`,
    key: record.user.apiKey,
    body: { reason: `chaos: the action failed (${record.how})` },
  });
  record.status = answer.status;
  if (answer.status === 200 || answer.status === 201) record.body = answer.body;
}

/**
 * A service reports a few usage events for its user (half of them naming another creator's
 * agent, so a creator share is paid), then reverses some: once, twice one after the other (the
 * second a 200 replay), or twice at once (one reversal between them).
 */
export async function reversalFlow(ctx: FlowContext): Promise<void> {
  const user = await fundedUser(ctx, CREDITS);
  if (!user) return;
  const agents = ctx.journal.agents.filter((a) => !a.dedicated && a.creatorId !== user.id);
  const events: UsageEventRecord[] = [];
  for (let i = ctx.rng.int(2, 4); i > 0 && Date.now() < ctx.deadlineMs; i--) {
    const body = {
      feature: 'conversation',
      inputTokens: ctx.rng.int(500, 3000),
      outputTokens: ctx.rng.int(200, 1000),
      ...(agents.length > 0 && ctx.rng.chance(0.5) ? { agentId: ctx.rng.pick(agents).id } : {}),
    };
    const event = await chargeUsage(ctx, user, { kind: 'usage (to be reversed)', body });
    if (event.charged !== undefined && event.charged > 0) events.push(event);
  }
  for (const event of events) {
    const how = ctx.rng.weighted<ReversalAttemptRecord['how'] | 'kept'>({
      once: 3,
      twice: 2,
      concurrent: 2,
      kept: 1,
    });
    if (how === 'kept') continue;
    if (how === 'concurrent') {
      await Promise.all([
        reverse(ctx, event, how, 'usage reversal (two at once)'),
        reverse(ctx, event, how, 'usage reversal (two at once)'),
      ]);
      continue;
    }
    await reverse(ctx, event, how, 'usage reversal');
    if (how === 'twice') await reverse(ctx, event, how, 'usage reversal (again)');
  }
}

/** Reversals that never got an answer are sent again (the event names the reversal: safe). */
export async function resendUnansweredReversals(ctx: FlowContext): Promise<number> {
  const unanswered = ctx.journal.reversals.filter((r) => r.status === 0 || r.status >= 500);
  for (const r of unanswered) {
    r.resentAtSettle = true;
    await send(ctx, r, 'usage reversal (re-sent at settle)');
  }
  return unanswered.length;
}
