import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { listMail } from '../../db/outbox';
import type { Sql } from '../../db/pool';
import { findUserById, setLowBalanceThreshold } from '../../db/users';
import { MAX_CREDITS_PER_OPERATION } from '../../domain';
import { currentUser, forgetCachedUser } from '../auth';
import { parse } from '../errors';
import { integerParam, wholeNumber } from '../schemas';

const settingsBody = z
  .object({ lowBalanceThreshold: wholeNumber(0, MAX_CREDITS_PER_OPERATION).nullable() })
  .strict();

const notificationsQuery = z
  .object({
    kind: z.enum(['receipt', 'low_balance']).optional(),
    limit: integerParam(1, 100).default(20),
  })
  .strict();

/** The user's settings (low-balance threshold) and the messages sent to them. */
export function settingsRouter(deps: { sql: Sql; requireUser: RequestHandler }): Router {
  const router = Router();
  router.get('/v1/settings', deps.requireUser, async (_req, res) => {
    // Read fresh: the authenticated user may come from the key cache (seconds old).
    const user = await findUserById(deps.sql, currentUser(res).id);
    res.json({ lowBalanceThreshold: user!.lowBalanceThreshold });
  });
  router.put('/v1/settings', deps.requireUser, async (req, res) => {
    const body = parse(settingsBody, req.body);
    const userId = currentUser(res).id;
    await setLowBalanceThreshold(deps.sql, userId, body.lowBalanceThreshold);
    forgetCachedUser(deps.sql, userId);
    res.json({ lowBalanceThreshold: body.lowBalanceThreshold });
  });
  router.get('/v1/notifications', deps.requireUser, async (req, res) => {
    const query = parse(notificationsQuery, req.query, 'query');
    res.json({ data: await listMail(deps.sql, currentUser(res).id, query) });
  });
  return router;
}
