import type { Journal } from '../journal';
import { OUTCOMES, type Stats } from '../stats';
import { type CheckResult, check } from './check';

/** No 500s (outside Postgres fault windows, unless strict), and every answer had the documented shape. */
export function httpChecks(stats: Stats, journal: Journal, strict: boolean): CheckResult[] {
  const answered = OUTCOMES_ANSWERED.reduce((n, o) => n + stats.total(o), 0);
  const describe = (e: Stats['errorsOutside'][number]) => `${e.status} on ${e.path}: ${e.body}`;
  const outside = stats.errorsOutside.map(describe);
  const inside = stats.errorsInWindow.map((e) => `(during a Postgres fault) ${describe(e)}`);
  return [
    check(
      strict
        ? 'no HTTP 5xx other than 503, at any time (strict)'
        : 'no HTTP 5xx other than 503 outside Postgres fault windows',
      answered,
      strict ? [...outside, ...inside] : outside,
    ),
    check(
      'a retry under the same Idempotency-Key names the same resource',
      answered,
      journal.idempotencyMismatches,
    ),
    check('every answer had the documented shape', answered, journal.driverErrors),
  ];
}

/** Every outcome that is an answer (all but 'no answer'). */
const OUTCOMES_ANSWERED = OUTCOMES.filter((o) => o !== 'no answer');
