/**
 * The user's Stripe Customer and saved card (DESIGN.md §13). The first Checkout purchase makes
 * the Customer (keyed by the user, so racing first purchases ask Stripe for one Customer) and
 * asks Checkout to save the card with the buyer's consent for off-session use; once the payment
 * is credited, the card it was paid with (read from its payment intent) becomes the user's saved
 * card, which auto top-up charges. Only brand and last four digits are kept here.
 */
import type Stripe from 'stripe';
import {
  customerSchema,
  idOf,
  paymentIntentWithMethodSchema,
  savedCardOf,
} from '../activities/stripe-objects';
import { findCustomer, rememberCustomer, type SavedCard, saveCard } from '../db/customers';
import type { Sql } from '../db/pool';

export interface CustomerDeps {
  sql: Sql;
  stripe: Stripe;
}

/** The user's Customer id: the stored one, else a new Customer (idempotent per user). */
export async function customerFor(deps: CustomerDeps, user: { id: string; email: string }): Promise<string> {
  const known = await findCustomer(deps.sql, user.id);
  if (known) return known.customerId;
  const created = customerSchema.parse(
    await deps.stripe.customers.create(
      { email: user.email, metadata: { userId: user.id } },
      { idempotencyKey: `customer:${user.id}` },
    ),
  );
  return rememberCustomer(deps.sql, user.id, created.id);
}

/**
 * Saves the card a credited Checkout payment was made with, when the buyer consented
 * (setup_future_usage = off_session) and it was attached to the user's own Customer. Returns the
 * card saved, or null (no consent, another Customer, not a card). Safe to repeat.
 */
export async function saveCardOfPayment(
  deps: CustomerDeps,
  input: { userId: string; paymentIntentId: string },
): Promise<Omit<SavedCard, 'savedAt'> | null> {
  const customer = await findCustomer(deps.sql, input.userId);
  if (!customer) return null;
  const intent = paymentIntentWithMethodSchema.parse(
    await deps.stripe.paymentIntents.retrieve(input.paymentIntentId, { expand: ['payment_method'] }),
  );
  if (intent.setup_future_usage !== 'off_session' || idOf(intent.customer) !== customer.customerId)
    return null;
  const card = savedCardOf(intent);
  if (!card || card.customerId !== customer.customerId) return null;
  const saved = await saveCard(deps.sql, {
    userId: input.userId,
    customerId: customer.customerId,
    paymentMethodId: card.paymentMethodId,
    brand: card.brand,
    last4: card.last4,
  });
  return saved ? { paymentMethodId: card.paymentMethodId, brand: card.brand, last4: card.last4 } : null;
}
