import { z } from 'zod';
import type { ChaosAgent } from '../journal';
import type { FlowContext } from './context';
import { signUp } from './users';

const published = z.object({ id: z.uuid(), creatorId: z.uuid() });

/**
 * A creator (a new user) publishes an agent through POST /v1/agents; null when no answer came.
 * A `dedicated` agent is named only by its own flow's charges, never by random usage.
 */
export async function publishAgent(
  ctx: FlowContext,
  name: string,
  dedicated = false,
): Promise<ChaosAgent | null> {
  const creator = await signUp(ctx);
  if (!creator) return null;
  const answer = await ctx.api.call({
    kind: 'publish agent',
    method: 'POST',
    path: '/v1/agents',
    key: creator.apiKey,
    body: { name },
  });
  if (answer.status !== 201) return null;
  const agent: ChaosAgent = { ...published.parse(answer.body), creator, ...(dedicated ? { dedicated } : {}) };
  ctx.journal.agents.push(agent);
  return agent;
}

/** A few agents, published before the load starts, that usage events name. */
export async function seedAgents(ctx: FlowContext, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => publishAgent(ctx, `chaos agent ${i + 1}`)));
}
