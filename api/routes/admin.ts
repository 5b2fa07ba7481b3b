import { randomUUID } from 'node:crypto';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { TopUpNotifier } from '../../config/top-up';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { findUserById } from '../../db/users';
import { BUCKETS, MAX_CREDITS_PER_OPERATION, NotFound } from '../../domain';
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
export function adminRouter(deps: {
  sql: Sql;
  ledger: Ledger;
  announceTopUp: TopUpNotifier;
  requireOperator: RequestHandler;
}): Router {
  const router = Router();
  router.post('/v1/admin/grants', deps.requireOperator, async (req, res) => {
    const body = parse(grant, req.body);
    const key = idempotencyKey(req) ?? randomUUID();
    if (!(await findUserById(deps.sql, body.userId))) throw new NotFound(`userId: no user ${body.userId}`);
    const result = await deps.ledger.credit({
      idempotencyKey: `grant:${key}`,
      userId: body.userId,
      amount: body.credits,
      bucket: body.bucket,
      from: 'grants',
      kind: 'grant',
      description: body.reason ?? 'operator grant',
    });
    // Paused projects resume on a top-up; a lost signal only waits for their re-check timer.
    await deps.announceTopUp({ userId: body.userId, reason: 'grant' }).catch(() => 0);
    res.status(201).json({ userId: body.userId, credits: result.amount, available: result.availableAfter });
  });
  return router;
}
