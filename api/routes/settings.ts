import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { UseCases } from '../../app';
import { listMail } from '../../db/outbox';
import type { Sql } from '../../db/pool';
import { findUserById, setLowBalanceThreshold } from '../../db/users';
import { MAX_CREDITS_PER_OPERATION } from '../../domain';
import { currentUser, forgetCachedUser } from '../auth';
import { parse } from '../errors';
import { autoTopUpBody, integerParam, wholeNumber } from '../schemas';

/** Either setting, or both; what is left out stays as it is. */
export const settingsBody = z
  .object({
    lowBalanceThreshold: wholeNumber(0, MAX_CREDITS_PER_OPERATION).nullable().optional(),
    autoTopUp: autoTopUpBody.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.lowBalanceThreshold === undefined && body.autoTopUp === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['lowBalanceThreshold'],
        message: 'is required (a number or null), unless autoTopUp is sent',
      });
  });

export const notificationsQuery = z
  .object({
    kind: z.enum(['receipt', 'low_balance', 'auto_top_up_suspended']).optional(),
    limit: integerParam(1, 100).default(20),
  })
  .strict();

/**
 * The user's settings (low-balance threshold; auto top-up, shown with its state once saved) and
 * the messages sent to them.
 */
export function settingsRouter(
  deps: { sql: Sql; requireUser: RequestHandler } & Pick<UseCases, 'saveAutoTopUp' | 'autoTopUpView'>,
): Router {
  const router = Router();
  /** Auto top-up appears once the user saved it (the answer is unchanged for everyone else). */
  const view = async (userId: string) => {
    // Read fresh: the authenticated user may come from the key cache (seconds old).
    const [user, autoTopUp] = await Promise.all([findUserById(deps.sql, userId), deps.autoTopUpView(userId)]);
    return { lowBalanceThreshold: user!.lowBalanceThreshold, ...(autoTopUp ? { autoTopUp } : {}) };
  };
  router.get('/v1/settings', deps.requireUser, async (_req, res) => {
    res.json(await view(currentUser(res).id));
  });
  router.put('/v1/settings', deps.requireUser, async (req, res) => {
    const body = parse(settingsBody, req.body);
    const userId = currentUser(res).id;
    // Auto top-up first: when it is refused (no saved card, a package not for sale), nothing changes.
    if (body.autoTopUp) await deps.saveAutoTopUp({ userId, setting: body.autoTopUp });
    if (body.lowBalanceThreshold !== undefined)
      await setLowBalanceThreshold(deps.sql, userId, body.lowBalanceThreshold);
    // The debit path reads both thresholds from the cached user: drop it here at once.
    forgetCachedUser(deps.sql, userId);
    res.json(await view(userId));
  });
  router.get('/v1/notifications', deps.requireUser, async (req, res) => {
    const query = parse(notificationsQuery, req.query, 'query');
    res.json({ data: await listMail(deps.sql, currentUser(res).id, query) });
  });
  return router;
}
