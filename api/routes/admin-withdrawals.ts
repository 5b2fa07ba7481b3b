import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { UseCases } from '../../app';
import type { Sql } from '../../db/pool';
import { listAllWithdrawals, WITHDRAWAL_STATUSES } from '../../db/withdrawals';
import { WITHDRAWAL_REASON_MAX } from '../../workflows/messages';
import { parse } from '../errors';
import { freeText, integerParam, uuidOf } from '../schemas';
import { withdrawalCursor, withdrawalPageView, withdrawalView } from './withdrawals';

export const idParam = z.object({ id: uuidOf('a withdrawal id') });
/** Oldest first (the queue to decide); `cursor` is the `nextCursor` of the page before. */
export const listQuery = z
  .object({
    status: z.enum(WITHDRAWAL_STATUSES).optional(),
    limit: integerParam(1, 500).default(100),
    cursor: withdrawalCursor.optional(),
  })
  .strict();
export const rejectBody = z.object({ reason: freeText(WITHDRAWAL_REASON_MAX).optional() }).strict();

/**
 * The operator's side of withdrawals (Bearer ADMIN_API_KEY): the queue, and the decision, which
 * the withdrawal's workflow judges (a second decision, or one after expiry, is a 409).
 */
export function adminWithdrawalsRouter(
  deps: { sql: Sql; requireOperator: RequestHandler } & Pick<UseCases, 'decideWithdrawal'>,
): Router {
  const router = Router();

  router.get('/v1/admin/withdrawals', deps.requireOperator, async (req, res) => {
    const { status, limit, cursor } = parse(listQuery, req.query, 'query');
    const page = await listAllWithdrawals(deps.sql, { status, limit, after: cursor });
    res.json(withdrawalPageView(page, (w) => ({ ...withdrawalView(w), userId: w.userId })));
  });

  router.post('/v1/admin/withdrawals/:id/approve', deps.requireOperator, async (req, res) => {
    const { id } = parse(idParam, req.params, 'id');
    parse(z.object({}).strict(), req.body ?? {});
    const { withdrawal, decision } = await deps.decideWithdrawal({ id, decision: { decision: 'approve' } });
    res.json({ ...withdrawalView(withdrawal), userId: withdrawal.userId, decision });
  });

  router.post('/v1/admin/withdrawals/:id/reject', deps.requireOperator, async (req, res) => {
    const { id } = parse(idParam, req.params, 'id');
    const body = parse(rejectBody, req.body ?? {});
    const { withdrawal, decision } = await deps.decideWithdrawal({
      id,
      decision: { decision: 'reject', ...(body.reason ? { reason: body.reason } : {}) },
    });
    res.json({ ...withdrawalView(withdrawal), userId: withdrawal.userId, decision });
  });
  return router;
}
