import { randomInt } from 'node:crypto';
import Stripe from 'stripe';

/**
 * The Stripe objects the stand-in serves, trimmed to the fields a credit-purchase system reads.
 * Field names and value shapes follow Stripe's API reference so the SDK's types describe them.
 */

export type Metadata = Record<string, string>;

export interface CheckoutSession {
  id: string;
  object: 'checkout.session';
  created: number;
  livemode: false;
  mode: 'payment';
  /** Only present while the session is open, as on Stripe. */
  url: string | null;
  status: 'open' | 'complete' | 'expired';
  payment_status: 'unpaid' | 'paid';
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  metadata: Metadata;
  client_reference_id: string | null;
  customer_email: string | null;
  customer_details: { email: string | null } | null;
  expires_at: number;
  payment_intent: string | null;
  success_url: string;
  cancel_url: string | null;
}

export interface LineItem {
  id: string;
  object: 'item';
  amount_subtotal: number;
  amount_total: number;
  currency: string;
  description: string;
  quantity: number;
  price: {
    id: string;
    object: 'price';
    currency: string;
    unit_amount: number;
    product: string;
    type: 'one_time';
  };
}

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  created: number;
  livemode: false;
  amount: number;
  amount_received: number;
  currency: string;
  status: 'succeeded';
  metadata: Metadata;
  latest_charge: string;
  description: string | null;
}

export interface Charge {
  id: string;
  object: 'charge';
  created: number;
  livemode: false;
  amount: number;
  amount_captured: number;
  amount_refunded: number;
  currency: string;
  captured: true;
  paid: true;
  refunded: boolean;
  status: 'succeeded';
  payment_intent: string;
  metadata: Metadata;
  billing_details: { email: string | null };
}

export interface Refund {
  id: string;
  object: 'refund';
  created: number;
  amount: number;
  charge: string;
  currency: string;
  payment_intent: string;
  reason: 'duplicate' | 'fraudulent' | 'requested_by_customer' | null;
  status: 'succeeded';
  metadata: Metadata;
}

export type StripeObject = CheckoutSession | PaymentIntent | Charge | Refund | LineItem;

export interface StripeEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
  data: { object: unknown };
}

export interface ListPage<T> {
  object: 'list';
  url: string;
  has_more: boolean;
  data: T[];
}

/** The API version the bundled SDK asks for, so events look like they were rendered for it. */
export const API_VERSION: string = Stripe.API_VERSION;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Stripe-looking ids (`cs_test_…`, `pi_…`): a prefix and random base-62 characters. */
export function newId(prefix: string, length = 24): string {
  let suffix = '';
  for (let i = 0; i < length; i++) suffix += ALPHABET[randomInt(ALPHABET.length)];
  return `${prefix}_${suffix}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
