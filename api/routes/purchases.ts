import { type Request, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { StartedPurchase, UseCases } from '../../app';
import { listDisputes } from '../../db/disputes';
import { listMail } from '../../db/outbox';
import type { Sql } from '../../db/pool';
import { listPurchases, listRefunds, type Purchase } from '../../db/purchases';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { integerParam, uuidOf, visibleText } from '../schemas';
import { ownOrigin } from '../session';
import { disputeView } from './admin-refunds';

export const purchaseBody = z.object({ packageId: visibleText(100) }).strict();
export const idParam = z.object({ id: uuidOf('a purchase id') });
export const listQuery = z.object({ limit: integerParam(1, 100).default(20) }).strict();

/** This API's own origin, as the caller reached it: Checkout sends the browser back here. */
export const baseUrl = ownOrigin;

/** Where Checkout sends the buyer back: the credits page, which shows the purchase's outcome. */
export function checkoutReturnUrl(req: Request): string {
  return `${baseUrl(req)}/usercredits`;
}

export function purchaseView(p: Purchase) {
  return {
    id: p.id,
    packageId: p.packageId,
    credits: p.credits,
    priceCents: p.priceCents,
    currency: p.currency,
    status: p.status,
    checkoutUrl: p.status === 'pending' ? p.checkoutUrl : null,
    createdAt: p.createdAt,
    completedAt: p.completedAt,
  };
}

/** A started purchase as the API answers it: the checkout URL is the one the workflow made. */
export function startedPurchaseView(started: StartedPurchase) {
  return { ...purchaseView(started.purchase), checkoutUrl: started.checkoutUrl };
}

/** Buying credits: each purchase is a purchaseWorkflow; the database answers the reads. */
export function purchasesRouter(
  deps: { sql: Sql; requireUser: RequestHandler } & Pick<UseCases, 'startPurchase' | 'ownPurchase'>,
): Router {
  const router = Router();

  router.post('/v1/purchases', deps.requireUser, async (req, res) => {
    const body = parse(purchaseBody, req.body);
    const started = await deps.startPurchase({
      user: currentUser(res),
      packageId: body.packageId,
      key: idempotencyKey(req),
      returnUrl: checkoutReturnUrl(req),
    });
    res
      .status(started.created ? 201 : 200)
      .set(replayHeaders(!started.created))
      .json(startedPurchaseView(started));
  });

  router.get('/v1/purchases', deps.requireUser, async (req, res) => {
    const { limit } = parse(listQuery, req.query, 'query');
    res.json({ data: (await listPurchases(deps.sql, currentUser(res).id, limit)).map(purchaseView) });
  });

  router.get('/v1/purchases/:id', deps.requireUser, async (req, res) => {
    const { id } = parse(idParam, req.params, 'id');
    const purchase = await deps.ownPurchase(currentUser(res).id, id);
    const [refunds, disputes] = await Promise.all([listRefunds(deps.sql, id), listDisputes(deps.sql, id)]);
    // Refunds made in the Stripe Dashboard and by an operator (reason operator_refund); disputes.
    res.json({ ...purchaseView(purchase), refunds, disputes: disputes.map(disputeView) });
  });

  router.get('/v1/receipts', deps.requireUser, async (req, res) => {
    const { limit } = parse(listQuery, req.query, 'query');
    res.json({ data: await listMail(deps.sql, currentUser(res).id, { kind: 'receipt', limit }) });
  });
  return router;
}
