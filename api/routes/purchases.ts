import { randomUUID } from 'node:crypto';
import { type Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { type Request, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { uuidFromSeed } from '../../db/ids';
import { listMail } from '../../db/outbox';
import { findPackage } from '../../db/packages';
import type { Sql } from '../../db/pool';
import { findPurchase, listPurchases, listRefunds, type Purchase } from '../../db/purchases';
import type { User } from '../../db/users';
import { IdempotencyConflict, NotFound } from '../../domain';
import { checkoutUpdate, type PurchaseInput, workflowIds } from '../../workflows/messages';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey } from '../idempotency';

export interface PurchaseSettings {
  /** How long a Checkout Session stays open (Stripe allows 30 min to 24 h). */
  checkoutExpirySeconds: number;
  pollIntervalSeconds: number;
}

const purchaseBody = z
  .object({ packageId: z.string({ message: 'must be a string' }).min(1).max(100) })
  .strict();
const idParam = z.object({ id: z.uuid({ message: 'must be a purchase id (UUID)' }) });
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();

/** A retried POST with the same Idempotency-Key names the same purchase, hence the same workflow. */
function purchaseId(userId: string, key: string | undefined): string {
  return key ? uuidFromSeed(`purchase:${userId}:${key}`) : randomUUID();
}

/** This API's own origin, as the caller reached it: Checkout sends the browser back here. */
export function baseUrl(req: Request): string {
  return `${req.protocol}://${req.get('host')}`;
}

export type PurchaseView = ReturnType<typeof purchaseView>;

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

export interface PurchaseDeps {
  sql: Sql;
  temporal: Client;
  taskQueue: string;
  purchases: PurchaseSettings;
}

/**
 * Starts buying `packageId` for `user`: the purchaseWorkflow creates the purchase and its Checkout
 * Session, whose URL is returned. The same idempotency key names the same purchase, so a retry
 * returns the first one (`created: false`); once it is no longer pending, without a checkout URL.
 * Used by `POST /v1/purchases` and by the credits page's Buy buttons.
 */
export async function startPurchase(
  deps: PurchaseDeps,
  user: Pick<User, 'id' | 'email'>,
  packageId: string,
  key: string | undefined,
  baseUrl: string,
): Promise<{ created: boolean; purchase: PurchaseView }> {
  const pkg = await findPackage(deps.sql, packageId, user.id);
  if (!pkg) throw new NotFound(`packageId: no package ${packageId} for this user`);
  const id = purchaseId(user.id, key);
  const existing = await findPurchase(deps.sql, id);
  // The same key for another package is a different request, not a retry.
  if (existing && existing.packageId !== pkg.id) throw new IdempotencyConflict(`purchase ${id}`);
  if (existing && existing.status !== 'pending') return { created: false, purchase: purchaseView(existing) };
  const input: PurchaseInput = {
    purchaseId: id,
    userId: user.id,
    email: user.email,
    packageId: pkg.id,
    packageName: pkg.name,
    credits: pkg.credits,
    priceCents: pkg.priceCents,
    currency: pkg.currency,
    successUrl: `${baseUrl}/usercredits?purchase=${id}`,
    cancelUrl: `${baseUrl}/usercredits?purchase=${id}&cancelled=1`,
    expiresAt: Math.floor(Date.now() / 1000) + deps.purchases.checkoutExpirySeconds,
    pollIntervalSeconds: deps.purchases.pollIntervalSeconds,
  };
  const workflowId = workflowIds.purchase(id);
  try {
    await deps.temporal.workflow.start('purchaseWorkflow', {
      taskQueue: deps.taskQueue,
      workflowId,
      args: [input],
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  const checkout = await deps.temporal.workflow.getHandle(workflowId).executeUpdate(checkoutUpdate);
  const purchase = (await findPurchase(deps.sql, id))!;
  return { created: !existing, purchase: { ...purchaseView(purchase), checkoutUrl: checkout.checkoutUrl } };
}

/** Buying credits: each purchase is a purchaseWorkflow; the database answers the reads. */
export function purchasesRouter(deps: PurchaseDeps & { requireUser: RequestHandler }): Router {
  const router = Router();

  router.post('/v1/purchases', deps.requireUser, async (req, res) => {
    const body = parse(purchaseBody, req.body);
    const started = await startPurchase(
      deps,
      currentUser(res),
      body.packageId,
      idempotencyKey(req),
      baseUrl(req),
    );
    res.status(started.created ? 201 : 200).json(started.purchase);
  });

  router.get('/v1/purchases', deps.requireUser, async (req, res) => {
    const { limit } = parse(listQuery, req.query, 'query');
    res.json({ data: (await listPurchases(deps.sql, currentUser(res).id, limit)).map(purchaseView) });
  });

  router.get('/v1/purchases/:id', deps.requireUser, async (req, res) => {
    const { id } = parse(idParam, req.params, 'id');
    const purchase = await findPurchase(deps.sql, id);
    // Someone else's purchase is "not found", not "forbidden": ids must not leak.
    if (!purchase || purchase.userId !== currentUser(res).id) throw new NotFound(`purchase ${id} not found`);
    res.json({ ...purchaseView(purchase), refunds: await listRefunds(deps.sql, id) });
  });

  router.get('/v1/receipts', deps.requireUser, async (req, res) => {
    const { limit } = parse(listQuery, req.query, 'query');
    res.json({ data: await listMail(deps.sql, currentUser(res).id, { kind: 'receipt', limit }) });
  });
  return router;
}
