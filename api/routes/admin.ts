import { randomUUID } from 'node:crypto';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { UseCases } from '../../app';
import { BUCKETS, MAX_CREDITS_PER_OPERATION } from '../../domain';
import { parse } from '../errors';
import { idempotencyKey } from '../idempotency';

const grant = z
  .object({
    userId: z.uuid({ message: 'must be a user id (UUID)' }),
    credits: z.number().int().positive().max(MAX_CREDITS_PER_OPERATION),
    bucket: z.enum(BUCKETS).default('purchased'),
    reason: z.string().min(1).max(500).optional(),
  })
  .strict();

/** Operator routes. Grants let operators (and tests) credit a user without Stripe. */
export function adminRouter(
  deps: Pick<UseCases, 'grantCredits'> & { requireOperator: RequestHandler },
): Router {
  const router = Router();
  router.post('/v1/admin/grants', deps.requireOperator, async (req, res) => {
    const body = parse(grant, req.body);
    const result = await deps.grantCredits({ ...body, key: idempotencyKey(req) ?? randomUUID() });
    res.status(201).json({ userId: body.userId, credits: result.credited, available: result.availableAfter });
  });
  return router;
}
