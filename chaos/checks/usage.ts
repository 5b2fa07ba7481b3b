import type { Sql } from '../../db/pool';
import type { Journal } from '../journal';
import { type CheckResult, check } from './check';

/**
 * Usage: every answered charge has exactly one transfer of the amount answered; every refused
 * event moved nothing; every usage transfer belongs to an event the driver sent and was answered
 * for (or, unanswered at first, was replayed and answered); every repeated eventId was a replay.
 */
export async function usageChecks(sql: Sql, journal: Journal): Promise<CheckResult[]> {
  const records = [...journal.usage.values()];
  const keyOf = (userId: string, eventId: string) => `usage:${userId}:${eventId}`;
  // The charge's own transfer; a creator's share in the same operation is checked on its own below.
  const transfers = await sql<{ key: string; n: number; sum: number }[]>`
    SELECT operation_key AS key, count(*)::int AS n, sum(amount)::bigint AS sum FROM transfers
    WHERE operation_key = ANY(${records.map((r) => keyOf(r.user.id, r.eventId))}) AND kind <> 'creator_share'
    GROUP BY 1`;
  const byKey = new Map(transfers.map((t) => [t.key, t]));
  const charged = records.filter((r) => r.charged !== undefined);
  const chargeViolations = charged.flatMap((r) => {
    const t = byKey.get(keyOf(r.user.id, r.eventId));
    if (!t) return [`event ${r.eventId} answered charged ${r.charged} but has no transfer`];
    return t.n === 1 && t.sum === r.charged
      ? []
      : [`event ${r.eventId}: ${t.n} transfers for ${t.sum}, answered ${r.charged}`];
  });
  const refused = records.filter((r) => r.outcome === 'refused' || r.outcome === 'rejected');
  const refusedViolations = refused.flatMap((r) =>
    byKey.has(keyOf(r.user.id, r.eventId))
      ? [`event ${r.eventId} answered ${r.outcome} but moved credits`]
      : [],
  );
  const unanswered = records
    .filter((r) => r.outcome === 'unknown')
    .map((r) => `event ${r.eventId}: no answer even when replayed`);
  // Every usage transfer in the run's database, whoever it belongs to (reversals: checks/reversals.ts).
  const all = await sql<{ key: string }[]>`
    SELECT operation_key AS key FROM transfers
    WHERE cause_type = 'usage_event' AND kind NOT IN ('creator_share', 'usage_reversal')`;
  const answeredKeys = new Set(charged.map((r) => keyOf(r.user.id, r.eventId)));
  const orphans = all
    .filter((t) => !answeredKeys.has(t.key))
    .map((t) => `transfer ${t.key} for an event never answered as charged`);
  const repeatViolations = journal.repeats.flatMap((r) =>
    r.status === 200 && r.replayed && r.charged === r.originalCharged
      ? []
      : [
          `event ${r.eventId} repeated: ${r.status} replayed=${r.replayed} charged ${r.charged}, first ${r.originalCharged}`,
        ],
  );
  const firstReplays = charged.filter((r) => r.firstAnswerReplay).length;
  return [
    check(
      `every answered charge has exactly one transfer of its amount (${firstReplays} first answered as replays)`,
      charged.length,
      chargeViolations,
    ),
    check('no refused (402) or rejected event moved credits', refused.length, refusedViolations),
    check('every usage transfer belongs to an answered or replayed event', all.length, orphans),
    check('every event answered in the end (unanswered ones replayed)', records.length, unanswered),
    check(
      'a repeated eventId is a 200 replay with the original charge',
      journal.repeats.length,
      repeatViolations,
    ),
  ];
}
