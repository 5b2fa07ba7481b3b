import { DAY_MS, dayRange } from '../db/usage';
import { ValidationError } from '../domain';
import { parse } from './errors';
import { dateRangeQuery } from './schemas';

const MAX_DAYS = 366;
const DEFAULT_DAYS = 30;

/**
 * `?from=&to=` of the reports (usage summary, earnings): inclusive UTC days, `to` defaults to
 * today and `from` to 30 days before it; at most 366 days, so one request cannot ask Postgres to
 * group the whole ledger.
 */
export function dayRangeQuery(query: unknown): { from: string; to: string } {
  const parsed = parse(dateRangeQuery, query, 'query');
  const { from: defaultFrom, to } = dayRange(DEFAULT_DAYS, parsed.to);
  const from = parsed.from ?? defaultFrom;
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  if (days < 1) throw new ValidationError('from', 'must not be after to');
  if (days > MAX_DAYS) throw new ValidationError('from', `the range is at most ${MAX_DAYS} days`);
  return { from, to };
}
