import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { Ledger } from '../../db/ledger';
import { listPackages } from '../../db/packages';
import type { Sql } from '../../db/pool';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { integerParam } from '../schemas';

export const transactionsQuery = z
  .object({
    limit: integerParam(1, 100).default(20),
    cursor: z
      .string()
      .regex(/^\d{1,15}$/, { message: 'must be a cursor returned as nextCursor' })
      .optional(),
  })
  .strict();

/** The user's own ledger views and the catalog. */
export function accountRouter(deps: {
  sql: Sql;
  ledger: Ledger;
  requireUser: RequestHandler;
  optionalUser: RequestHandler;
}): Router {
  const router = Router();
  router.get('/v1/balance', deps.requireUser, async (_req, res) => {
    const balance = await deps.ledger.balance(currentUser(res).id);
    res.json({
      available: balance.available,
      posted: balance.posted,
      held: balance.held,
      buckets: balance.byBucket,
    });
  });
  router.get('/v1/transactions', deps.requireUser, async (req, res) => {
    const query = parse(transactionsQuery, req.query, 'query');
    const page = await deps.ledger.transfers(currentUser(res).id, {
      limit: query.limit,
      before: query.cursor ? Number(query.cursor) : undefined,
    });
    res.json(page);
  });
  router.get('/v1/packages', deps.optionalUser, async (_req, res) => {
    const user = res.locals.user as { id: string } | undefined;
    res.json({ data: await listPackages(deps.sql, user?.id ?? null) });
  });
  return router;
}
