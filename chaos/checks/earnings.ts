import type { Sql } from '../../db/pool';
import { rateCardBodySchema } from '../../domain/rate-card-schema';
import type { Journal } from '../journal';
import { type CheckResult, check } from './check';

/**
 * Creator earnings (DESIGN.md §10, §11): every charge for another creator's agent paid that
 * creator's share once, in the charge's own operation (creatorShareBp of the rate card the charge
 * was priced with, rounded down: a charge too small for one credit pays none); a charge for your
 * own agent, or for none, paid no share.
 */
export async function earningsChecks(sql: Sql, journal: Journal): Promise<CheckResult[]> {
  const creatorOf = new Map(journal.agents.map((a) => [a.id, a.creatorId]));
  const charged = [...journal.usage.values()].filter((r) => r.charged !== undefined);
  const keyOf = (r: (typeof charged)[number]) => `usage:${r.user.id}:${r.eventId}`;
  const operations = await sql<
    { key: string; version: number; shares: number; sum: number; receiver: string | null }[]
  >`
    SELECT o.idempotency_key AS key, (o.result->'memo'->>'rateCardVersion')::int AS version,
           count(t.id)::int AS shares, coalesce(sum(t.amount), 0)::bigint AS sum,
           min(a.user_id::text) AS receiver
    FROM ledger_operations o
    LEFT JOIN transfers t ON t.operation_key = o.idempotency_key AND t.kind = 'creator_share'
    LEFT JOIN accounts a ON a.id = t.credit_account_id
    WHERE o.idempotency_key = ANY(${charged.map(keyOf)})
    GROUP BY o.idempotency_key, o.result`;
  const cards = await sql<{ version: number; card: unknown }[]>`SELECT version, card FROM rate_cards`;
  const shareBp = new Map(cards.map((c) => [c.version, rateCardBodySchema.parse(c.card).creatorShareBp]));
  const byKey = new Map(operations.map((o) => [o.key, o]));
  const violations = charged.flatMap((r) => {
    const op = byKey.get(keyOf(r));
    if (!op) return []; // a charge without its operation is the usage checks' violation
    const agentId = typeof r.body.agentId === 'string' ? r.body.agentId : undefined;
    const creator = agentId ? creatorOf.get(agentId) : undefined;
    const bp = shareBp.get(op.version) ?? 0;
    const expected = creator && creator !== r.user.id ? Math.floor((r.charged! * bp) / 10_000) : 0;
    const ok =
      expected === 0 ? op.shares === 0 : op.shares === 1 && op.sum === expected && op.receiver === creator;
    return ok
      ? []
      : [
          `event ${r.eventId} (agent ${agentId ?? 'none'}): ${op.shares} shares of ${op.sum} to ${op.receiver}, expected ${expected} to ${creator}`,
        ];
  });
  const forAgents = charged.filter((r) => typeof r.body.agentId === 'string').length;
  return [
    check(
      `every charge for another creator's agent paid their share once, in its own operation; no other charge did (${forAgents} for agents)`,
      charged.length,
      violations,
    ),
  ];
}
