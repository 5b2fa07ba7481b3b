import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ChaosUser, UsageEventRecord } from '../journal';
import type { FlowContext } from './context';

const charge = z.object({ charged: z.number().int().min(0), replayed: z.boolean() });

/** A conversation event of random size (a few credits), as an agent runner would report it. */
function usageBody(ctx: FlowContext, eventId: string): Record<string, unknown> {
  const agents = ctx.journal.agents.filter((a) => !a.dedicated);
  return {
    eventId,
    feature: 'conversation',
    inputTokens: ctx.rng.int(100, 3000),
    outputTokens: ctx.rng.int(50, 1000),
    // One event in three names a published agent: its creator earns a share of the charge.
    ...(agents.length > 0 && ctx.rng.chance(1 / 3) ? { agentId: ctx.rng.pick(agents).id } : {}),
  };
}

/**
 * Sends one new usage event (retried with the same eventId while unanswered) and records its
 * outcome; `fields` replace the random conversation event (e.g. an upskilling charge for one agent).
 */
export async function chargeUsage(
  ctx: FlowContext,
  user: ChaosUser,
  fields?: { kind: string; body: Record<string, unknown> },
): Promise<UsageEventRecord> {
  const eventId = randomUUID();
  const body = fields ? { ...fields.body, eventId } : usageBody(ctx, eventId);
  const answer = await ctx.api.call({
    kind: fields?.kind ?? 'usage',
    method: 'POST',
    path: '/v1/usage',
    key: user.apiKey,
    body,
  });
  const record: UsageEventRecord = { user, eventId, body, outcome: 'unknown' };
  applyAnswer(record, answer.status, answer.body);
  ctx.journal.addUsage(record);
  return record;
}

/** What an answer says about the event: charged, a replay of an earlier charge, refused, or still unknown. */
export function applyAnswer(record: UsageEventRecord, status: number, body: Record<string, unknown>): void {
  if (status === 201 || status === 200) {
    const parsed = charge.parse(body);
    record.outcome = parsed.replayed ? 'replayed' : 'charged';
    record.charged = parsed.charged;
    record.firstAnswerReplay = parsed.replayed;
  } else if (status === 402) record.outcome = 'refused';
  else if (status >= 400 && status < 500) record.outcome = 'rejected';
  else record.outcome = 'unknown';
}

/**
 * The same event again (a client retrying after a timeout, or a duplicate from its queue): the
 * answer must be a 200 replay with the original charge.
 */
export async function repeatUsage(ctx: FlowContext, original: UsageEventRecord): Promise<void> {
  if (original.charged === undefined) return;
  const answer = await ctx.api.call({
    kind: 'usage (repeated eventId)',
    method: 'POST',
    path: '/v1/usage',
    key: original.user.apiKey,
    body: original.body,
  });
  if (answer.status === 0 || answer.status >= 500) return; // no verdict either way
  const parsed = charge.safeParse(answer.body);
  ctx.journal.repeats.push({
    eventId: original.eventId,
    userId: original.user.id,
    status: answer.status,
    replayed: parsed.success && parsed.data.replayed,
    charged: parsed.success ? parsed.data.charged : undefined,
    originalCharged: original.charged,
  });
}

/** A burst of usage from one user, one in ten a repeat of an event already charged. */
export async function usageBurst(ctx: FlowContext, user: ChaosUser, events: number): Promise<void> {
  const charged: UsageEventRecord[] = [];
  for (let i = 0; i < events && Date.now() < ctx.deadlineMs; i++) {
    if (charged.length > 0 && ctx.rng.chance(0.1)) {
      await repeatUsage(ctx, ctx.rng.pick(charged));
      continue;
    }
    const record = await chargeUsage(ctx, user);
    if (record.charged !== undefined) charged.push(record);
  }
}
