/**
 * Agents and their ratings (DESIGN.md §11). An agent's stars are kept on its row as a count and
 * a total, changed only by `upsertRating` under the agent's row lock, so the mean (`rating`, a
 * generated column) is always the mean of its ratings and listing reads no ratings.
 */
import { IdempotencyConflict } from '../domain';
import { type AgentStats, MAX_CANDIDATES, PRIOR_MEAN_STARS, PRIOR_WEIGHT } from '../domain/agent-selection';
import type { Sql } from './pool';

export interface Agent {
  id: string;
  name: string;
  description: string | null;
  creatorId: string;
  /** The mean of its stars, 2 decimals; null until someone rates it. */
  rating: number | null;
  ratingsCount: number;
  createdAt: string;
}

export interface AgentRating {
  agentId: string;
  userId: string;
  stars: number;
  comment: string | null;
  createdAt: string;
  updatedAt: string;
}

interface AgentRow {
  id: string;
  name: string;
  description: string | null;
  creator_id: string;
  rating: number | null;
  ratings_count: number;
  created_at: Date;
}

interface RatingRow {
  agent_id: string;
  user_id: string;
  stars: number;
  comment: string | null;
  created_at: Date;
  updated_at: Date;
}

function toAgent(r: AgentRow): Agent {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    creatorId: r.creator_id,
    rating: r.rating,
    ratingsCount: r.ratings_count,
    createdAt: r.created_at.toISOString(),
  };
}

function toRating(r: RatingRow): AgentRating {
  return {
    agentId: r.agent_id,
    userId: r.user_id,
    stars: r.stars,
    comment: r.comment,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** `rating` is numeric (postgres.js would answer a string): float8 makes it a JSON number. */
const AGENT_COLUMNS =
  'id, name, description, creator_id, rating::float8 AS rating, ratings_count, created_at';

/** Ids come from callers that may pass any text (a usage event's agent id): only a UUID can name an agent. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Idempotent: a retried POST with the same Idempotency-Key finds the agent it made. */
export async function insertAgent(
  sql: Sql,
  a: { id: string; creatorId: string; name: string; description: string | null; requestHash: string },
): Promise<{ created: boolean; agent: Agent }> {
  const rows = await sql<AgentRow[]>`
    INSERT INTO agents (id, creator_id, name, description, request_hash)
    VALUES (${a.id}, ${a.creatorId}, ${a.name}, ${a.description}, ${a.requestHash})
    ON CONFLICT (id) DO NOTHING
    RETURNING ${sql.unsafe(AGENT_COLUMNS)}`;
  if (rows.length === 1) return { created: true, agent: toAgent(rows[0]!) };
  const [existing] = await sql<(AgentRow & { request_hash: string | null })[]>`
    SELECT ${sql.unsafe(AGENT_COLUMNS)}, request_hash FROM agents WHERE id = ${a.id}`;
  // The same key from another user derives another id, so a match here is the same creator's.
  if (existing?.request_hash !== a.requestHash) throw new IdempotencyConflict(`agent ${a.id}`);
  return { created: false, agent: toAgent(existing) };
}

export async function findAgent(sql: Sql, id: string): Promise<Agent | null> {
  if (!UUID.test(id)) return null;
  const [row] = await sql<AgentRow[]>`SELECT ${sql.unsafe(AGENT_COLUMNS)} FROM agents WHERE id = ${id}`;
  return row ? toAgent(row) : null;
}

/**
 * The creator's user id, or null when no agent has this id. A creator never changes (a trigger
 * refuses it), so callers may rely on the answer for as long as they like.
 */
export async function agentCreator(sql: Sql, agentId: string): Promise<string | null> {
  if (!UUID.test(agentId)) return null;
  const [row] = await sql<{ creator_id: string }[]>`SELECT creator_id FROM agents WHERE id = ${agentId}`;
  return row?.creator_id ?? null;
}

/** Which of these ids are published agents. */
export async function existingAgentIds(sql: Sql, ids: readonly string[]): Promise<Set<string>> {
  const wanted = [...new Set(ids.filter((id) => UUID.test(id)))];
  if (wanted.length === 0) return new Set();
  const rows = await sql<{ id: string }[]>`SELECT id FROM agents WHERE id = ANY(${wanted}::uuid[])`;
  return new Set(rows.map((r) => r.id));
}

/**
 * Published agents, best rated first: by rating (unrated last), then more ratings, then older,
 * then id. `after` is the last agent of the previous page: the page goes on from where that agent
 * sorts now (a rating in between may move it; lists that change under a reader are never exact).
 */
export async function listAgents(
  sql: Sql,
  page: { limit: number; after?: string | undefined },
): Promise<{ agents: Agent[]; more: boolean }> {
  const rows = await sql<AgentRow[]>`
    SELECT ${sql.unsafe(AGENT_COLUMNS)} FROM agents a
    ${
      page.after === undefined
        ? sql``
        : sql`WHERE (COALESCE(-a.rating, 1), -a.ratings_count, a.created_at, a.id) >
                (SELECT COALESCE(-c.rating, 1), -c.ratings_count, c.created_at, c.id FROM agents c
                 WHERE c.id = ${page.after})`
    }
    ORDER BY COALESCE(-a.rating, 1), -a.ratings_count, a.created_at, a.id
    LIMIT ${page.limit + 1}`;
  return { agents: rows.slice(0, page.limit).map(toAgent), more: rows.length > page.limit };
}

/**
 * The agents the planner weighs: the best MAX_CANDIDATES by Bayesian average (the same formula
 * and constants as domain/agent-selection.ts), ties by id.
 */
export async function selectionCandidates(sql: Sql): Promise<AgentStats[]> {
  const rows = await sql<{ id: string; ratings_count: number; stars_total: number }[]>`
    SELECT id, ratings_count, stars_total FROM agents
    ORDER BY (${PRIOR_WEIGHT * PRIOR_MEAN_STARS}::numeric + stars_total) / (${PRIOR_WEIGHT} + ratings_count) DESC, id
    LIMIT ${MAX_CANDIDATES}`;
  return rows.map((r) => ({ id: r.id, ratingsCount: r.ratings_count, starsTotal: r.stars_total }));
}

/**
 * True when some transfer for this agent took credits from one of the user's accounts in an
 * operation that was not reversed since (a charge given back, as a failed action's is, does not
 * make its payer a user of the agent).
 */
export async function wasChargedFor(sql: Sql, userId: string, agentId: string): Promise<boolean> {
  const [row] = await sql<{ charged: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM transfers t
      WHERE t.agent_id = ${agentId} AND t.kind <> 'creator_share'
        AND t.debit_account_id IN (SELECT id FROM accounts WHERE user_id = ${userId})
        AND NOT EXISTS (SELECT 1 FROM ledger_operations r WHERE r.reverses = t.operation_key)) AS charged`;
  return row!.charged;
}

/**
 * The user's rating of the agent, new or replacing their earlier one, and the agent's stars
 * updated in the same transaction. The agent's row lock orders every rating of it, so the old
 * stars read here are the ones being replaced and two ratings at once both count exactly (the
 * primary key on agent and user would also refuse a second row).
 */
export async function upsertRating(
  sql: Sql,
  r: { agentId: string; userId: string; stars: number; comment: string | null },
): Promise<{ replaced: boolean; rating: AgentRating; agent: Agent }> {
  return sql.begin(async (tx) => {
    await tx`SELECT 1 FROM agents WHERE id = ${r.agentId} FOR UPDATE`;
    const [old] = await tx<{ stars: number }[]>`
      SELECT stars FROM agent_ratings WHERE agent_id = ${r.agentId} AND user_id = ${r.userId}`;
    const [rating] = await tx<RatingRow[]>`
      INSERT INTO agent_ratings (agent_id, user_id, stars, comment)
      VALUES (${r.agentId}, ${r.userId}, ${r.stars}, ${r.comment})
      ON CONFLICT (agent_id, user_id)
      DO UPDATE SET stars = EXCLUDED.stars, comment = EXCLUDED.comment, updated_at = now()
      RETURNING *`;
    const [agent] = await tx<AgentRow[]>`
      UPDATE agents SET ratings_count = ratings_count + ${old ? 0 : 1},
                        stars_total = stars_total + ${r.stars - (old?.stars ?? 0)}
      WHERE id = ${r.agentId}
      RETURNING ${tx.unsafe(AGENT_COLUMNS)}`;
    return { replaced: old !== undefined, rating: toRating(rating!), agent: toAgent(agent!) };
  }) as Promise<{ replaced: boolean; rating: AgentRating; agent: Agent }>;
}
