import { type RequestHandler, Router } from 'express';
import type { RateCards } from '../../db/rate-cards';
import { budgetVerdict, priceProject, priceUsage } from '../../domain';
import { parse } from '../errors';
import { projectEstimateBody, usageEstimateBody } from '../schemas';

/**
 * Prices work before it starts, with the same functions that charge it: a usage body (has
 * `feature`) or a project body (`tasks` or `prompt`). A project body with `maxCredits` also
 * says whether that budget covers the whole project (`budget`). Moves nothing.
 */
export function estimatesRouter(deps: { rateCards: RateCards; requireUser: RequestHandler }): Router {
  const router = Router();
  router.post('/v1/estimates', deps.requireUser, async (req, res) => {
    const card = await deps.rateCards.latest();
    // Own property only: `in` would also see what a body's prototype has.
    const isUsage = typeof req.body === 'object' && req.body !== null && Object.hasOwn(req.body, 'feature');
    if (isUsage) {
      res.json({ kind: 'usage', ...priceUsage(card, parse(usageEstimateBody, req.body)) });
      return;
    }
    const project = parse(projectEstimateBody, req.body);
    const price = priceProject(card, project);
    res.json({
      kind: 'project',
      ...price,
      ...(project.maxCredits === undefined
        ? {}
        : { budget: budgetVerdict(card, project, project.maxCredits) }),
    });
  });
  return router;
}
