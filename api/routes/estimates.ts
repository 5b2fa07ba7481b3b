import { type RequestHandler, Router } from 'express';
import type { RateCards } from '../../db/rate-cards';
import { priceProject, priceUsage } from '../../domain';
import { parse } from '../errors';
import { projectEstimateBody, usageEstimateBody } from '../schemas';

/**
 * Prices work before it starts, with the same functions that charge it: a usage body (has
 * `feature`) or a project body (`tasks` or `prompt`). Moves nothing.
 */
export function estimatesRouter(deps: { rateCards: RateCards; requireUser: RequestHandler }): Router {
  const router = Router();
  router.post('/v1/estimates', deps.requireUser, async (req, res) => {
    const card = await deps.rateCards.latest();
    // Own property only: `in` would also see what a body's prototype has.
    const isUsage = typeof req.body === 'object' && req.body !== null && Object.hasOwn(req.body, 'feature');
    const price = isUsage
      ? priceUsage(card, parse(usageEstimateBody, req.body))
      : priceProject(card, parse(projectEstimateBody, req.body));
    res.json({ kind: isUsage ? 'usage' : 'project', ...price });
  });
  return router;
}
