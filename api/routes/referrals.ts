import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { UseCases } from '../../app';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { integerParam } from '../schemas';
import { ownOrigin } from '../session';

export const referralsQuery = z.object({ limit: integerParam(1, 500).default(100) }).strict();

/**
 * `GET /v1/referrals` (DESIGN.md §11): the user's referral code and sign-up link, the newest
 * `limit` sign-ups they referred (emails masked) with each one's status and reward, and the
 * credits their referrals earned in all. The link's origin is PUBLIC_URL, else the one the
 * caller reached this API at.
 */
export function referralsRouter(
  deps: { requireUser: RequestHandler } & Pick<UseCases, 'referralSummary'>,
): Router {
  const router = Router();
  router.get('/v1/referrals', deps.requireUser, async (req, res) => {
    const query = parse(referralsQuery, req.query, 'query');
    const user = currentUser(res);
    res.json(await deps.referralSummary({ user, origin: ownOrigin(req), limit: query.limit }));
  });
  return router;
}
