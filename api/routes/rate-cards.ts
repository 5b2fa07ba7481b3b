import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { RateCards } from '../../db/rate-cards';
import { rateCardBodySchema } from '../../domain/rate-card-schema';
import { parse } from '../errors';
import { freeText, integerParam } from '../schemas';

export const publishBody = z.object({ note: freeText(500).optional(), card: rateCardBodySchema }).strict();
export const versionParam = z.object({ version: integerParam(1, 2_147_483_647) });

/** The public price list, and the operator route that publishes a new version (no redeploy). */
export function rateCardsRouter(deps: { rateCards: RateCards; requireOperator: RequestHandler }): Router {
  const router = Router();
  router.get('/v1/rate-card', async (_req, res) => {
    res.json(await deps.rateCards.latest());
  });
  router.get('/v1/rate-cards/:version', async (req, res) => {
    const { version } = parse(versionParam, req.params, 'version');
    res.json(await deps.rateCards.version(version));
  });
  router.post('/v1/admin/rate-cards', deps.requireOperator, async (req, res) => {
    const body = parse(publishBody, req.body);
    res.status(201).json(await deps.rateCards.publish(body.card, body.note ?? null));
  });
  return router;
}
