import type { Sql } from '../../db/pool';
import type { Journal, ReversalAttemptRecord } from '../journal';
import { type CheckResult, check } from './check';

interface ReversalOpRow {
  reverses: string;
  key: string;
}

interface LegRow {
  key: string;
  to_user: number;
  from_others: number;
  others: number;
}

interface StoredRow {
  user_id: string;
  event_id: string;
  reason: string;
  credits: number;
  creator_share_reversed: number;
  creator_shortfall: number;
  created_at: Date;
}

const ok2xx = (s: number) => s === 200 || s === 201;
/** A 4xx: an answer that says no (no answer and 5xx are unknowns, sent again while settling). */
const refused = (s: number) => s >= 400 && s < 500;

/**
 * Usage reversals (DESIGN.md §12): every reversed event has exactly one reversal operation
 * (ledger_operations.reverses), which takes from the agent's creator at most the share they were
 * paid (what their earned bucket still had; the rest is the recorded shortfall) and gives the
 * user the charge back less that shortfall, so it pays out exactly what it takes back; no other
 * usage charge is reversed; every answer is the one stored
 * reversal, a 201 at most once per event, and a reversal asked after one was answered is a 200 replay.
 */
export async function reversalChecks(sql: Sql, journal: Journal): Promise<CheckResult[]> {
  const chargeKey = (r: { user: { id: string }; eventId: string }) => `usage:${r.user.id}:${r.eventId}`;
  const attempts = journal.reversals;
  const byEvent = new Map<string, ReversalAttemptRecord[]>();
  for (const a of attempts) byEvent.set(chargeKey(a), [...(byEvent.get(chargeKey(a)) ?? []), a]);
  const reversed = [...byEvent.entries()].filter(([, list]) => list.some((a) => ok2xx(a.status)));

  const ops = await sql<ReversalOpRow[]>`
    SELECT reverses, idempotency_key AS key FROM ledger_operations WHERE reverses LIKE 'usage:%'`;
  const opsOf = new Map<string, string[]>();
  for (const o of ops) opsOf.set(o.reverses, [...(opsOf.get(o.reverses) ?? []), o.key]);
  const keys = ops.map((o) => o.key);
  // Each reversal operation's legs: to the event's user, and from anyone else (the creator).
  const legs = await sql<LegRow[]>`
    SELECT o.idempotency_key AS key,
           coalesce(sum(t.amount) FILTER (WHERE k.user_id = split_part(o.reverses, ':', 2)::uuid), 0)::bigint AS to_user,
           coalesce(sum(t.amount) FILTER (WHERE d.user_id IS NOT NULL AND d.user_id <> split_part(o.reverses, ':', 2)::uuid), 0)::bigint AS from_others,
           count(t.id) FILTER (WHERE d.user_id IS NOT NULL AND d.user_id <> split_part(o.reverses, ':', 2)::uuid)::int AS others
    FROM ledger_operations o JOIN transfers t ON t.operation_key = o.idempotency_key
    JOIN accounts d ON d.id = t.debit_account_id JOIN accounts k ON k.id = t.credit_account_id
    WHERE o.idempotency_key = ANY(${keys})
    GROUP BY o.idempotency_key`;
  const legsOf = new Map(legs.map((l) => [l.key, l]));
  const shares = await sql<{ key: string; share: number }[]>`
    SELECT operation_key AS key, sum(amount)::bigint AS share FROM transfers
    WHERE operation_key = ANY(${reversed.map(([k]) => k)}) AND kind = 'creator_share' GROUP BY 1`;
  const shareOf = new Map(shares.map((s) => [s.key, s.share]));
  const stored = await sql<StoredRow[]>`
    SELECT user_id::text, event_id, reason, credits, creator_share_reversed, creator_shortfall, created_at
    FROM usage_reversals`;
  const storedOf = new Map(stored.map((s) => [`usage:${s.user_id}:${s.event_id}`, s]));

  const onceViolations: string[] = [];
  const moneyViolations: string[] = [];
  let withShare = 0;
  for (const [key, list] of reversed) {
    const mine = opsOf.get(key) ?? [];
    if (mine.length !== 1) {
      onceViolations.push(`event ${key}: ${mine.length} reversal operations ${mine.join(', ')}`);
      continue;
    }
    const leg = legsOf.get(mine[0]!);
    const row = storedOf.get(key);
    const charged = list[0]!.charged;
    const share = shareOf.get(key) ?? 0;
    if (share > 0) withShare++;
    const problems = [
      ...(mine[0] === `usage-reversal:${key.slice('usage:'.length)}` ? [] : [`operation key ${mine[0]}`]),
      ...(leg?.to_user === charged - share + (leg?.from_others ?? 0)
        ? []
        : [
            `user got back ${leg?.to_user ?? 0} of a charge of ${charged} (creator share ${share}, ${leg?.from_others ?? 0} of it taken back)`,
          ]),
      ...((leg?.from_others ?? 0) <= share
        ? []
        : [`creator gave back ${leg?.from_others} of a share of ${share}`]),
      ...(!row
        ? ['no stored reversal']
        : [
            ...(row.credits === (leg?.to_user ?? 0) ? [] : [`stored ${row.credits} reversed`]),
            ...(row.creator_share_reversed === (leg?.from_others ?? 0) &&
            row.creator_share_reversed + row.creator_shortfall === share
              ? []
              : [
                  `stored creator share reversed ${row.creator_share_reversed} + shortfall ${row.creator_shortfall}, the ledger took ${leg?.from_others ?? 0} of ${share}`,
                ]),
          ]),
    ];
    if (problems.length) moneyViolations.push(`event ${key}: ${problems.join('; ')}`);
  }
  const asked = new Set(byEvent.keys());
  for (const o of ops)
    if (!asked.has(o.reverses)) onceViolations.push(`charge ${o.reverses} reversed by ${o.key}, never asked`);
  for (const [key, list] of byEvent)
    if (!list.some((a) => ok2xx(a.status)) && opsOf.has(key) && list.every((a) => refused(a.status)))
      onceViolations.push(
        `event ${key}: reversed, but every request was refused (${list.map((a) => a.status).join(', ')})`,
      );

  const answerViolations: string[] = [];
  let replays = 0;
  for (const [key, list] of byEvent) {
    const row = storedOf.get(key);
    const created = list.filter((a) => a.status === 201);
    if (created.length > 1) answerViolations.push(`event ${key}: ${created.length} reversals answered 201`);
    for (const a of list) {
      if (refused(a.status)) {
        answerViolations.push(`event ${key}: a reversal answered ${a.status}`);
        continue;
      }
      if (!ok2xx(a.status)) continue;
      if (a.status === 200) replays++;
      if (a.afterAnswered && a.status !== 200)
        answerViolations.push(`event ${key}: asked again after an answer, got ${a.status}`);
      const b = a.body ?? {};
      const same =
        row &&
        b.eventId === row.event_id &&
        b.reversedCredits === row.credits &&
        b.creatorShareReversed === row.creator_share_reversed &&
        b.creatorShareShortfall === row.creator_shortfall &&
        b.reason === row.reason &&
        b.createdAt === row.created_at.toISOString() &&
        b.replayed === (a.status === 200);
      if (!same)
        answerViolations.push(
          `event ${key}: answered ${a.status} ${JSON.stringify(b).slice(0, 200)}, stored ${JSON.stringify(row)}`,
        );
    }
  }
  const twice = [...byEvent.values()].filter((l) => l.length > 1).length;
  return [
    check(
      'each reversed usage event has exactly one reversal operation (ledger_operations.reverses, keyed by the event); no charge reversed that was not asked',
      reversed.length,
      onceViolations,
    ),
    check(
      `a reversal takes from the creator at most their share (stored: reversed + shortfall = share) and gives the user the charge back less the shortfall, once (${withShare} with a creator share)`,
      reversed.length,
      moneyViolations,
    ),
    check(
      `every reversal answer is the one stored reversal: at most one 201 per event, a reversal asked after an answer is a 200 replay with the same body (${twice} events asked twice, ${replays} replays)`,
      attempts.length,
      answerViolations,
    ),
  ];
}
