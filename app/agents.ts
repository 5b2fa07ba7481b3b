/**
 * Agents (DESIGN.md §11): creators publish them, users who were charged for one rate it, and the
 * project planner picks one for each task that names none. Routes and the project use cases and
 * activities call these.
 */
import { randomUUID } from 'node:crypto';
import {
  type Agent,
  type AgentRating,
  existingAgentIds,
  findAgent,
  insertAgent,
  listAgents as listAgentRows,
  selectionCandidates,
  upsertRating,
  wasChargedFor,
} from '../db/agents';
import { uuidFromSeed } from '../db/ids';
import { requestHash } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { PlannedTask } from '../db/projects';
import { Forbidden, NotFound, ValidationError } from '../domain';
import { chooseAgent, taskAgentSeed } from '../domain/agent-selection';

export type { Agent, AgentRating } from '../db/agents';

/** An agent as parsed at the edge (api/routes/agents.ts); hashed for idempotency. */
export interface NewAgent {
  name: string;
  description?: string | undefined;
}

/**
 * Publishes an agent made by `user`. The same Idempotency-Key names the same agent, so a retry
 * publishes nothing new (`created: false`); the same key with another body is an IdempotencyConflict.
 */
export async function publishAgent(
  deps: { sql: Sql },
  request: { user: { id: string }; body: NewAgent; key: string | undefined },
): Promise<{ created: boolean; agent: Agent }> {
  const { user, body } = request;
  const id = request.key ? uuidFromSeed(`agent:${user.id}:${request.key}`) : randomUUID();
  return insertAgent(deps.sql, {
    id,
    creatorId: user.id,
    name: body.name,
    description: body.description ?? null,
    requestHash: requestHash('agent', { name: body.name, description: body.description }),
  });
}

/** One published agent; an unknown id is "not found". */
export async function showAgent(deps: { sql: Sql }, id: string): Promise<Agent> {
  const agent = await findAgent(deps.sql, id);
  if (!agent) throw new NotFound(`agent ${id} not found`);
  return agent;
}

/**
 * A page of published agents, best rated first. The cursor is the id of the previous page's last
 * agent (`nextCursor`, null on the last page); any other id is refused, naming `cursor`.
 */
export async function listAgents(
  deps: { sql: Sql },
  page: { limit: number; cursor?: string | undefined },
): Promise<{ data: Agent[]; nextCursor: string | null }> {
  if (page.cursor !== undefined && !(await findAgent(deps.sql, page.cursor))) {
    throw new ValidationError('cursor', 'must be a cursor returned as nextCursor');
  }
  const { agents, more } = await listAgentRows(deps.sql, { limit: page.limit, after: page.cursor });
  return { data: agents, nextCursor: more ? agents.at(-1)!.id : null };
}

/**
 * The user's rating of an agent: one per user and agent, a new one replaces the old
 * (`replaced: true`). Only users who were charged for the agent may rate it, and never its creator.
 */
export async function rateAgent(
  deps: { sql: Sql },
  request: { user: { id: string }; agentId: string; stars: number; comment?: string | undefined },
): Promise<{ replaced: boolean; rating: AgentRating; agent: Agent }> {
  const agent = await showAgent(deps, request.agentId);
  if (agent.creatorId === request.user.id) throw new Forbidden('you cannot rate your own agent');
  if (!(await wasChargedFor(deps.sql, request.user.id, agent.id))) {
    throw new Forbidden(`you can rate agent ${agent.id} once you have been charged for using it`);
  }
  return upsertRating(deps.sql, {
    agentId: agent.id,
    userId: request.user.id,
    stars: request.stars,
    comment: request.comment ?? null,
  });
}

/** Refuses a task list that names an agent nobody published, naming the first such task's field. */
export async function assertNamedAgentsExist(
  sql: Sql,
  tasks: readonly { agentId?: string | undefined }[],
): Promise<void> {
  const named = tasks.flatMap((t) => (t.agentId === undefined ? [] : [t.agentId]));
  if (named.length === 0) return;
  const known = await existingAgentIds(sql, named);
  const unknown = tasks.findIndex((t) => t.agentId !== undefined && !known.has(t.agentId));
  if (unknown >= 0) throw new ValidationError(`tasks.${unknown}.agentId`, 'is not a published agent');
}

/**
 * The planner's choice for every task that names no agent: weighted by Bayesian average rating,
 * seeded by the project and the task's position (domain/agent-selection.ts), so the same project
 * and the same agents give the same choice. No published agents: the tasks run without one.
 */
export async function assignAgents<T extends PlannedTask>(
  sql: Sql,
  projectId: string,
  tasks: readonly T[],
): Promise<(T & { agentId: string | undefined })[]> {
  const candidates = tasks.some((t) => t.agentId === undefined) ? await selectionCandidates(sql) : [];
  return tasks.map((t, position) => ({
    ...t,
    agentId: t.agentId ?? chooseAgent(candidates, taskAgentSeed(projectId, position)),
  }));
}
