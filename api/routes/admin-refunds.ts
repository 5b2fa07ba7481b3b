import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { OperatorRefund, UseCases } from '../../app';
import { DISPUTE_STATUSES, type Dispute, listAllDisputes } from '../../db/disputes';
import type { Sql } from '../../db/pool';
import { listOperatorRefunds, OPERATOR_REFUND_REASONS, OPERATOR_REFUND_STATUSES } from '../../db/refunds';
import { MAX_CREDITS_PER_OPERATION } from '../../domain';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { integerParam, uuidOf } from '../schemas';

export const refundBody = z
  .object({
    purchaseId: uuidOf('a purchase id'),
    credits: z
      .number({ message: 'must be a whole number of credits' })
      .int({ message: 'must be a whole number of credits' })
      .positive({ message: 'must be at least 1' })
      .max(MAX_CREDITS_PER_OPERATION, { message: 'is more than one refund can take' })
      .optional(),
    reason: z.enum(OPERATOR_REFUND_REASONS, {
      message: `must be one of ${OPERATOR_REFUND_REASONS.join(', ')}`,
    }),
  })
  .strict();
export const idParam = z.object({ id: uuidOf('a refund id') });
export const listQuery = z
  .object({
    status: z.enum(OPERATOR_REFUND_STATUSES).optional(),
    purchaseId: uuidOf('a purchase id').optional(),
    limit: integerParam(1, 500).default(100),
  })
  .strict();
export const disputesQuery = z
  .object({ status: z.enum(DISPUTE_STATUSES).optional(), limit: integerParam(1, 500).default(100) })
  .strict();

/** An operator refund as the API answers it. */
export function refundView(r: OperatorRefund) {
  return {
    id: r.id,
    purchaseId: r.purchaseId,
    userId: r.userId,
    credits: r.credits,
    amountCents: r.amountCents,
    currency: r.currency,
    reason: r.reason,
    status: r.status,
    failureReason: r.failureReason,
    stripeRefundId: r.stripeRefundId,
    createdAt: r.createdAt,
    completedAt: r.completedAt,
  };
}

/** A dispute as the API answers it (the purchase's owner sees the same on GET /v1/purchases/:id). */
export function disputeView(d: Dispute) {
  const held = d.creditsHeld ?? 0;
  return {
    id: d.id,
    purchaseId: d.purchaseId,
    amountCents: d.amountCents,
    currency: d.currency,
    reason: d.reason,
    status: d.status,
    creditsDue: d.creditsDue,
    // Held while open; taken when lost; released when won.
    creditsHeld: held,
    // Disputed credits the user had already spent: they could not be frozen.
    creditsShortfall: d.creditsHeld === null ? 0 : d.creditsDue - held,
    createdAt: d.createdAt,
    closedAt: d.closedAt,
  };
}

/**
 * The operator's refunds (Bearer ADMIN_API_KEY, DESIGN.md §12): refund a purchase's unused
 * credits through Stripe, and follow refunds and disputes. The use case (app/refunds.ts) decides
 * what is refundable; this parses, authenticates and shapes the answer.
 */
export function adminRefundsRouter(
  deps: { sql: Sql; requireOperator: RequestHandler } & Pick<
    UseCases,
    'requestOperatorRefund' | 'operatorRefund'
  >,
): Router {
  const router = Router();

  router.post('/v1/admin/refunds', deps.requireOperator, async (req, res) => {
    const body = parse(refundBody, req.body);
    const { created, refund } = await deps.requestOperatorRefund({ ...body, key: idempotencyKey(req) });
    res
      .status(created ? 201 : 200)
      .set(replayHeaders(!created))
      .json(refundView(refund));
  });

  router.get('/v1/admin/refunds', deps.requireOperator, async (req, res) => {
    const query = parse(listQuery, req.query, 'query');
    res.json({ data: (await listOperatorRefunds(deps.sql, query)).map(refundView) });
  });

  router.get('/v1/admin/refunds/:id', deps.requireOperator, async (req, res) => {
    const { id } = parse(idParam, req.params, 'id');
    res.json(refundView(await deps.operatorRefund(id)));
  });

  router.get('/v1/admin/disputes', deps.requireOperator, async (req, res) => {
    const query = parse(disputesQuery, req.query, 'query');
    const rows = await listAllDisputes(deps.sql, query);
    res.json({ data: rows.map((d) => ({ ...disputeView(d), userId: d.userId })) });
  });
  return router;
}
