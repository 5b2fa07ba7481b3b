import { type RequestHandler, Router } from 'express';
import { earnings } from '../../db/earnings';
import type { Sql } from '../../db/pool';
import { currentUser } from '../auth';
import { dayRangeQuery } from '../day-range';

/** GET /v1/earnings?from=&to=: a creator's earned credits, by agent and by UTC day (DESIGN.md §11). */
export function earningsRouter(deps: { sql: Sql; requireUser: RequestHandler }): Router {
  const router = Router();
  router.get('/v1/earnings', deps.requireUser, async (req, res) => {
    const { from, to } = dayRangeQuery(req.query);
    res.json(await earnings(deps.sql, currentUser(res).id, from, to));
  });
  return router;
}
