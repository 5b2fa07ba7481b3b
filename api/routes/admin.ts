import { randomUUID } from 'node:crypto';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { UseCases } from '../../app';
import type { Sql } from '../../db/pool';
import { isRecorded } from '../../db/usage';
import { BUCKETS, MAX_CREDITS_PER_OPERATION } from '../../domain';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { freeText, uuidOf, wholeNumber } from '../schemas';

export const grant = z
  .object({
    userId: uuidOf('a user id'),
    credits: wholeNumber(1, MAX_CREDITS_PER_OPERATION),
    bucket: z.enum(BUCKETS).default('purchased'),
    reason: freeText(500).optional(),
  })
  .strict();

/** Operator routes. Grants let operators (and tests) credit a user without Stripe. */
export function adminRouter(
  deps: Pick<UseCases, 'grantCredits'> & { sql: Sql; requireOperator: RequestHandler },
): Router {
  const router = Router();
  router.post('/v1/admin/grants', deps.requireOperator, async (req, res) => {
    const body = parse(grant, req.body);
    const key = idempotencyKey(req);
    // A grant whose key was already used is a replay (or a conflict, which grantCredits refuses).
    // The ledger's credit does not say which, so look first: the operation key is app/grants.ts's.
    // Two first tries racing both answer 201; the ledger still credits once.
    const replayed = key !== undefined && (await isRecorded(deps.sql, `grant:${key}`));
    const result = await deps.grantCredits({ ...body, key: key ?? randomUUID() });
    res
      .status(replayed ? 200 : 201)
      .set(replayHeaders(replayed))
      .json({ userId: body.userId, credits: result.credited, available: result.availableAfter });
  });
  return router;
}
