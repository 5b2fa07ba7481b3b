/**
 * The customer portal (DESIGN.md §13; the product page's FAQ: receipts are also in the Stripe
 * customer portal): a Billing Portal session for the user's saved Customer. Before the first
 * Checkout purchase there is no Customer: 409, saying so.
 */
import type Stripe from 'stripe';
import { portalSessionSchema } from '../activities/stripe-objects';
import { findCustomer } from '../db/customers';
import type { Sql } from '../db/pool';
import { Conflict } from '../domain';

export async function openBillingPortal(
  deps: { sql: Sql; stripe: Stripe },
  request: { userId: string; returnUrl: string },
): Promise<{ url: string }> {
  const customer = await findCustomer(deps.sql, request.userId);
  if (!customer) {
    throw new Conflict(
      'customer: the billing portal opens after your first purchase (it saves your Stripe customer)',
    );
  }
  // A new session each time: Stripe's portal links are short-lived, one per visit.
  const session = portalSessionSchema.parse(
    await deps.stripe.billingPortal.sessions.create({
      customer: customer.customerId,
      return_url: request.returnUrl,
    }),
  );
  return { url: session.url };
}
