import { type RequestHandler, Router } from 'express';
import type { UsageCharger } from '../../app';
import type { Sql } from '../../db/pool';
import { usageSummary } from '../../db/usage';
import type { User } from '../../db/users';
import { currentUser } from '../auth';
import { dayRangeQuery } from '../day-range';
import { parse } from '../errors';
import { replayHeaders } from '../idempotency';
import { usageBody } from '../schemas';

/**
 * POST /v1/usage without HTTP: parse the body, charge it (app/usage.ts), shape the answer (201
 * for a new charge, 200 for a replay). The Express route and the fast path
 * (api/usage-fast-path.ts) both answer through it, so both answer alike.
 */
export async function answerUsage(
  charge: UsageCharger,
  user: User,
  rawBody: unknown,
): Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, string> }> {
  const event = parse(usageBody, rawBody);
  const result = await charge(user, event);
  return {
    status: result.replayed ? 200 : 201,
    body: {
      eventId: event.eventId,
      charged: result.charged,
      balance: result.balance,
      ...result.memo,
      replayed: result.replayed,
    },
    headers: replayHeaders(result.replayed),
  };
}

/** Metering: charge one usage event at once; what was spent, by feature and day. */
export function usageRouter(deps: {
  sql: Sql;
  chargeUsage: UsageCharger;
  requireUser: RequestHandler;
}): Router {
  const router = Router();

  router.post('/v1/usage', deps.requireUser, async (req, res) => {
    const { status, body, headers } = await answerUsage(deps.chargeUsage, currentUser(res), req.body);
    res.set(headers).status(status).json(body);
  });

  router.get('/v1/usage/summary', deps.requireUser, async (req, res) => {
    const { from, to } = dayRangeQuery(req.query);
    res.json(await usageSummary(deps.sql, currentUser(res).id, from, to));
  });
  return router;
}
