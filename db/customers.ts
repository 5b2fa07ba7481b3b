/**
 * The user's Stripe Customer and saved card (DESIGN.md §13): the Customer is made with the first
 * Checkout purchase; the card that paid it is saved for off-session charges (auto top-up). Only
 * what a receipt shows is stored (brand, last four digits): the card stays in Stripe.
 */
import type { Sql } from './pool';

export interface SavedCard {
  paymentMethodId: string;
  brand: string;
  last4: string;
  savedAt: string;
}

export interface StripeCustomer {
  userId: string;
  customerId: string;
  /** Null until a Checkout payment saved a card. */
  card: SavedCard | null;
}

interface CustomerRow {
  user_id: string;
  customer_id: string;
  payment_method_id: string | null;
  card_brand: string | null;
  card_last4: string | null;
  card_saved_at: Date | null;
}

function toCustomer(r: CustomerRow): StripeCustomer {
  return {
    userId: r.user_id,
    customerId: r.customer_id,
    card:
      r.payment_method_id && r.card_saved_at
        ? {
            paymentMethodId: r.payment_method_id,
            brand: r.card_brand ?? 'card',
            last4: r.card_last4 ?? '????',
            savedAt: r.card_saved_at.toISOString(),
          }
        : null,
  };
}

export async function findCustomer(sql: Sql, userId: string): Promise<StripeCustomer | null> {
  const [row] = await sql<CustomerRow[]>`SELECT * FROM stripe_customers WHERE user_id = ${userId}`;
  return row ? toCustomer(row) : null;
}

/**
 * Records the user's Customer once; returns the one stored (a racing first purchase may have
 * stored it first: Stripe's idempotency key made both ask for the same Customer anyway).
 */
export async function rememberCustomer(sql: Sql, userId: string, customerId: string): Promise<string> {
  await sql`
    INSERT INTO stripe_customers (user_id, customer_id) VALUES (${userId}, ${customerId})
    ON CONFLICT (user_id) DO NOTHING`;
  const [row] = await sql<{ customer_id: string }[]>`
    SELECT customer_id FROM stripe_customers WHERE user_id = ${userId}`;
  return row!.customer_id;
}

/**
 * The card of the latest Checkout payment becomes the saved card (a later purchase with another
 * card replaces it, as "the card you paid with last" is what a user expects to be charged).
 * Only for the user's own Customer: a payment method of another Customer is never stored.
 */
export async function saveCard(
  sql: Sql,
  input: { userId: string; customerId: string; paymentMethodId: string; brand: string; last4: string },
): Promise<boolean> {
  const rows = await sql`
    UPDATE stripe_customers
    SET payment_method_id = ${input.paymentMethodId}, card_brand = ${input.brand},
        card_last4 = ${input.last4}, card_saved_at = now()
    WHERE user_id = ${input.userId} AND customer_id = ${input.customerId}
    RETURNING user_id`;
  return rows.length === 1;
}
