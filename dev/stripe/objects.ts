import { randomInt } from 'node:crypto';
import Stripe from 'stripe';
import type { Dispute } from './disputes';

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
  /** The Customer the session pays for (`customer` param), or null. */
  customer: string | null;
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

/** The statuses a payment intent of the stand-in can be in (Stripe has a few more). */
export type PaymentIntentStatus = 'succeeded' | 'requires_payment_method' | 'requires_action';

export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  created: number;
  livemode: false;
  amount: number;
  amount_received: number;
  currency: string;
  status: PaymentIntentStatus;
  metadata: Metadata;
  /** Null for a payment intent whose confirmation failed before any charge (declined, 3DS). */
  latest_charge: string | null;
  description: string | null;
  /** The Customer and the card (`pm_…`) it was paid with, when known. */
  customer: string | null;
  payment_method: string | null;
  /** `off_session` when the card was saved for later (Checkout's consent), as on Stripe. */
  setup_future_usage: 'off_session' | 'on_session' | null;
  /** Why the last confirmation failed (a decline, authentication required), as Stripe reports it. */
  last_payment_error: PaymentError | null;
  /** What the customer must do (3-D Secure) when status is requires_action. */
  next_action: { type: 'use_stripe_sdk' } | null;
}

/** A card failure as Stripe reports it, on the error and on `last_payment_error`. */
export interface PaymentError {
  type: 'card_error';
  code: 'card_declined' | 'authentication_required' | 'expired_card' | 'incorrect_cvc';
  decline_code?: string;
  message: string;
  payment_method?: { id: string; object: 'payment_method' };
}

/** A Stripe Customer, trimmed to what a billing system reads. */
export interface Customer {
  id: string;
  object: 'customer';
  created: number;
  livemode: false;
  email: string | null;
  name: string | null;
  description: string | null;
  metadata: Metadata;
  invoice_settings: { default_payment_method: string | null };
}

/** A saved card: `pm_…`, attached to at most one Customer. */
export interface PaymentMethod {
  id: string;
  object: 'payment_method';
  created: number;
  livemode: false;
  type: 'card';
  customer: string | null;
  billing_details: { email: string | null; name: string | null };
  card: CardDetails;
  metadata: Metadata;
}

/** A Billing Portal session: a short-lived link to the hosted portal of one Customer. */
export interface BillingPortalSession {
  id: string;
  object: 'billing_portal.session';
  created: number;
  livemode: false;
  customer: string;
  return_url: string | null;
  url: string;
  configuration: string;
  locale: null;
  on_behalf_of: null;
  flow: null;
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
  /** True once a dispute (chargeback) was opened on it (dev/stripe/disputes.ts). */
  disputed: boolean;
  status: 'succeeded';
  payment_intent: string;
  metadata: Metadata;
  billing_details: { email: string | null };
  /** The hosted receipt (the stand-in serves it). */
  receipt_url: string;
  /** Where the card's `fingerprint` lives, which tells one card from another across payments. */
  payment_method_details: { type: 'card'; card: CardDetails };
}

/** `payment_method_details.card`, trimmed to what tells cards apart and names them. */
export interface CardDetails {
  brand: CardBrand;
  last4: string;
  /** The same for every payment with the same card number, as on Stripe. */
  fingerprint: string;
  exp_month: number;
  exp_year: number;
  funding: 'credit';
  country: 'US';
}

export type CardBrand = 'visa' | 'mastercard' | 'amex' | 'discover' | 'unknown';

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

/** A Connect account's capability as the account reports it. */
export type CapabilityStatus = 'active' | 'inactive' | 'pending';

/** A Stripe Connect Express account: the payee of transfers, enabled once onboarding is done. */
export interface Account {
  id: string;
  object: 'account';
  type: 'express';
  created: number;
  email: string | null;
  country: string;
  default_currency: string;
  /** Only the capabilities asked for at creation, as on Stripe. */
  capabilities: Record<string, CapabilityStatus>;
  charges_enabled: boolean;
  payouts_enabled: boolean;
  details_submitted: boolean;
  requirements: {
    currently_due: string[];
    eventually_due: string[];
    past_due: string[];
    disabled_reason: string | null;
  };
  metadata: Metadata;
}

/** A single-use link to the hosted onboarding page of one account. */
export interface AccountLink {
  object: 'account_link';
  created: number;
  expires_at: number;
  url: string;
}

/** Money moved from the platform's balance to a connected account. */
export interface Transfer {
  id: string;
  object: 'transfer';
  created: number;
  livemode: false;
  amount: number;
  amount_reversed: number;
  balance_transaction: string;
  currency: string;
  description: string | null;
  destination: string;
  destination_payment: string;
  metadata: Metadata;
  reversals: ListPage<never>;
  reversed: false;
  source_transaction: null;
  source_type: 'card';
  transfer_group: string | null;
}

export type StripeObject =
  | CheckoutSession
  | PaymentIntent
  | Customer
  | PaymentMethod
  | BillingPortalSession
  | Charge
  | Refund
  | LineItem
  | Account
  | Transfer
  | Dispute;

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
  /** The connected account an event is about (Connect events only), as Stripe sets it. */
  account?: string;
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
