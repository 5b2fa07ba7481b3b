import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type Stripe from 'stripe';
import { uuidFromSeed } from '../db/ids';
import { findPackage } from '../db/packages';
import type { Sql } from '../db/pool';
import { findPurchase, type Purchase } from '../db/purchases';
import type { User } from '../db/users';
import { IdempotencyConflict, NotFound } from '../domain';
import { checkoutUpdate } from '../workflows/messages';
import { startPurchase as startPurchaseWorkflow } from '../workflows/starters';
import { customerFor } from './customers';
import { openCheckout } from './packages';

export interface PurchaseSettings {
  /** How long a Checkout Session stays open (Stripe allows 30 min to 24 h). */
  checkoutExpirySeconds: number;
  pollIntervalSeconds: number;
}

export interface PurchaseDeps {
  sql: Sql;
  temporal: Client;
  taskQueue: string;
  purchases: PurchaseSettings;
  /** With it, Checkout pays as the user's Stripe Customer and saves the card (app/customers.ts). */
  stripe?: Stripe | undefined;
}

export interface StartedPurchase {
  /** False when the idempotency key named an existing purchase (a retry). */
  created: boolean;
  purchase: Purchase;
  /** Where to send the buyer; null once the purchase is no longer pending. */
  checkoutUrl: string | null;
}

/** A retried request with the same idempotency key names the same purchase, hence the same workflow. */
function purchaseId(userId: string, key: string | undefined): string {
  return key ? uuidFromSeed(`purchase:${userId}:${key}`) : randomUUID();
}

/**
 * Starts buying `packageId` for `user`: the purchaseWorkflow creates the purchase and its Checkout
 * Session, whose URL is returned. The same idempotency key names the same purchase, so a retry
 * returns the first one (`created: false`); once it is no longer pending, without a checkout URL.
 * `returnUrl` is where Checkout sends the browser back (the credits page). Used by
 * `POST /v1/purchases` and by the credits page's Buy buttons.
 */
export async function startPurchase(
  deps: PurchaseDeps,
  request: {
    user: Pick<User, 'id' | 'email'>;
    packageId: string;
    key: string | undefined;
    returnUrl: string;
  },
): Promise<StartedPurchase> {
  const { user } = request;
  const pkg = await findPackage(deps.sql, request.packageId, user.id);
  if (!pkg) throw new NotFound(`packageId: no package ${request.packageId} for this user`);
  const id = purchaseId(user.id, request.key);
  const existing = await findPurchase(deps.sql, id);
  // The same key for another package is a different request, not a retry.
  if (existing && existing.packageId !== pkg.id) throw new IdempotencyConflict(`purchase ${id}`);
  if (existing && existing.status !== 'pending')
    return { created: false, purchase: existing, checkoutUrl: null };
  // A new checkout only while the package is on sale; a limited one reserves its slot here by
  // writing the row (app/packages.ts). A retry of a started one goes on: it may still complete.
  if (!existing) await openCheckout(deps.sql, pkg, { id, userId: user.id });
  // The buyer's Customer (made on their first purchase): Checkout saves the card for auto top-up.
  const customerId = deps.stripe
    ? await customerFor({ sql: deps.sql, stripe: deps.stripe }, user)
    : undefined;
  const handle = await startPurchaseWorkflow(deps.temporal, deps.taskQueue, {
    purchaseId: id,
    userId: user.id,
    email: user.email,
    packageId: pkg.id,
    packageName: pkg.name,
    credits: pkg.credits,
    priceCents: pkg.priceCents,
    currency: pkg.currency,
    successUrl: `${request.returnUrl}?purchase=${id}`,
    cancelUrl: `${request.returnUrl}?purchase=${id}&cancelled=1`,
    expiresAt: Math.floor(Date.now() / 1000) + deps.purchases.checkoutExpirySeconds,
    pollIntervalSeconds: deps.purchases.pollIntervalSeconds,
    ...(customerId ? { customerId } : {}),
  });
  const checkout = await handle.executeUpdate(checkoutUpdate);
  const purchase = (await findPurchase(deps.sql, id))!;
  return { created: !existing, purchase, checkoutUrl: checkout.checkoutUrl };
}

/** The user's own purchase; someone else's is "not found", not "forbidden": ids must not leak. */
export async function ownPurchase(deps: { sql: Sql }, userId: string, id: string): Promise<Purchase> {
  const purchase = await findPurchase(deps.sql, id);
  if (!purchase || purchase.userId !== userId) throw new NotFound(`purchase ${id} not found`);
  return purchase;
}
