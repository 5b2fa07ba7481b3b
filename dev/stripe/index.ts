import { createServer } from 'node:http';
import { createStandInApp } from './app';
import type { TransferFaults } from './connect';
import type { Dispute, OpenDisputeOptions } from './disputes';
import { IdempotencyCache } from './idempotency';
import type {
  Account,
  CheckoutSession,
  Customer,
  PaymentIntent,
  PaymentMethod,
  StripeEvent,
  Transfer,
} from './objects';
import { ONBOARDING_PATH } from './onboarding-routes';
import { PORTAL_PATH, RECEIPT_PATH } from './portal';
import { type PayResult, type RefundFaults, StandInStore } from './store';
import { type DeliveryRecord, WebhookDispatcher, type WebhookFaults } from './webhooks';

/**
 * A local Stripe stand-in (DESIGN.md §8, §11): an HTTP server speaking Stripe's wire protocol for
 * Checkout Sessions, refunds, payment intents, charges and events, and for Connect payouts
 * (Express accounts, account links, transfers), with a hosted checkout page, a hosted onboarding
 * page and signed webhooks, so the real `stripe` SDK works against it unchanged:
 *
 *   const standIn = await startStripeStandIn({ webhookSecret: 'whsec_test' });
 *   const stripe = new Stripe(standIn.secretKey, { host: standIn.host, port: standIn.port, protocol: 'http' });
 *
 * Charges carry `payment_method_details.card` with a `fingerprint` that depends on the card
 * number only (`cardFingerprint(number)` computes it). Connect, on the wire:
 * - `POST /v1/accounts` (`type=express`, `email`, `country`, `default_currency`,
 *   `capabilities[…][requested]`, `metadata[…]`) → an account with charges, payouts and
 *   details not yet enabled; `GET /v1/accounts/:id`.
 * - `POST /v1/account_links` (`account`, `type=account_onboarding`, `refresh_url`, `return_url`)
 *   → `{ url }` of the hosted onboarding page: a form POSTing `action=complete` to that same URL,
 *   which onboards the account, emits `account.updated` (with `event.account`) and redirects
 *   303 to `return_url`. Links are single-use and expire (`accountLinkLifetimeSeconds`); an
 *   unknown, used or expired one is a 404 page.
 * - `POST /v1/transfers` (`amount`, `currency`, `destination`, `description`, `metadata[…]`,
 *   `transfer_group`) → a transfer and `transfer.created`; an unknown destination is a 400
 *   `resource_missing`, one not onboarded a 400 `insufficient_capabilities_for_transfer`, a
 *   fault (`transferFaults`) a 400 `balance_insufficient` that, as on Stripe, is replayed for the
 *   same Idempotency-Key. `GET /v1/transfers/:id`, `GET /v1/transfers` (`destination`,
 *   `transfer_group` filters).
 *
 * Customers and saved cards (dev/stripe/customers.ts, DESIGN.md §13): `customers` (create,
 * retrieve, update, list payment methods); Checkout with `customer` and
 * `payment_intent_data[setup_future_usage]=off_session` attaches the paying card's payment
 * method (`pm_…`, on the payment intent) to the Customer; `payment_methods` (create with a raw
 * test card number, retrieve, list by customer, attach); `payment_intents` created with
 * `confirm=true` (and `off_session=true` for a saved card): 4242… succeeds
 * (`payment_intent.succeeded`), 4000000000000002 and 4000000000000341 decline with a 402
 * `card_declined`, 4000002500003155 / 4000000000003155 / 4000002760003184 need authentication
 * (status `requires_action`; off-session a 402 `authentication_required`), each failure with
 * `payment_intent.payment_failed`; the 402 is replayed for the same Idempotency-Key. The
 * stand-in's checkout page pays with 3155 and 0341 cards (the cardholder is there), so a test
 * can save a card that fails off-session later. `billing_portal.sessions.create({customer,
 * return_url})` → a `url` of the hosted portal page (saved cards, payments with receipts).
 *
 * Disputes (dev/stripe/disputes.ts): `openDispute` and `closeDispute` on this handle play the
 * cardholder's bank and Stripe's review, emitting `charge.dispute.created` and
 * `charge.dispute.closed` with a Stripe-shaped `dispute` (`dp_…`, `needs_response` → `won` |
 * `lost`); `GET /v1/disputes/:id`, `GET /v1/disputes` (`charge`, `payment_intent` filters). A
 * charge with a dispute that was not won refuses refunds (400 `charge_disputed`), as on Stripe;
 * `refundFaults.failNext(n)` makes refunds fail with a 400 `balance_insufficient`.
 */

export { cardFingerprint } from './cards';
export type { TransferFaults } from './connect';
export type { Dispute, DisputeReason, OpenDisputeOptions } from './disputes';
export type {
  Account,
  CheckoutSession,
  Customer,
  PaymentIntent,
  PaymentMethod,
  StripeEvent,
  Transfer,
} from './objects';
export type { PayResult, RefundFaults } from './store';
export type { DeliveryRecord, WebhookFaults } from './webhooks';

/** The stand-in's secret key unless another is given: `localStripe` and test workers use it. */
export const STAND_IN_SECRET_KEY = 'sk_test_local_stand_in';

export interface StripeStandInOptions {
  /** The only key the API accepts (`Authorization: Bearer …`); default STAND_IN_SECRET_KEY. */
  secretKey?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Signs webhooks, as an endpoint's `whsec_…` secret does on Stripe. */
  webhookSecret: string;
  /** Where events are POSTed; without one they are only listed (GET /v1/events). */
  webhookUrl?: string;
  /** First retry delay; doubles each attempt. Default 500 ms. */
  retryBaseMs?: number;
  /** Attempts per event before giving up. Default 8. */
  maxDeliveryAttempts?: number;
  /** How long an account link works. Default 300 s (Stripe's links last minutes too). */
  accountLinkLifetimeSeconds?: number;
  /** How long a Billing Portal link works. Default 3,600 s. */
  portalLifetimeSeconds?: number;
  log?: (line: string) => void;
}

export interface StripeStandIn {
  /** e.g. http://127.0.0.1:12111 */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The secret key its API accepts; any other gets Stripe's 401. */
  readonly secretKey: string;
  setWebhookUrl(url: string | undefined): void;
  /** Webhook faults for tests, settable at any time. */
  readonly faults: WebhookFaults;
  /** Every delivery attempt so far, oldest first. */
  readonly deliveries: readonly DeliveryRecord[];
  /** Every event so far, oldest first. */
  readonly events: readonly StripeEvent[];
  /** The session as the API would return it; throws for an unknown id. */
  session(sessionId: string): CheckoutSession;
  /** What pressing Pay on the checkout page does (`card` defaults to 4242…). */
  paySession(sessionId: string, options?: { card?: string }): PayResult;
  /** A second successful charge for a paid session, announced by another checkout.session.completed. */
  simulateDuplicateCharge(sessionId: string): { paymentIntent: PaymentIntent; event: StripeEvent };
  /** Records and delivers an arbitrary event. */
  emit(type: string, object: unknown): StripeEvent;
  /** Delivers an existing event again (as the Dashboard's "Resend" does). */
  redeliver(eventId: string): void;
  /** Transfer faults for tests, settable at any time: `failNext(n)`, `failDestinations`, `reset()`. */
  readonly transferFaults: TransferFaults;
  /** Refund faults for tests, settable at any time: `failNext(n)`, `reset()`. */
  readonly refundFaults: RefundFaults;
  /**
   * The cardholder's bank disputes a charge (named by its id or its payment intent's):
   * `charge.dispute.created`, status needs_response. `amount` defaults to what is not refunded.
   */
  openDispute(chargeOrPaymentIntent: string, options?: OpenDisputeOptions): Dispute;
  /** Stripe's review ends: `charge.dispute.closed` with status won or lost. */
  closeDispute(disputeId: string, outcome: 'won' | 'lost'): Dispute;
  /** The dispute as the API would return it; throws for an unknown id. */
  dispute(disputeId: string): Dispute;
  /** The payment intent, customer or payment method as the API would return it; throws for an unknown id. */
  paymentIntent(paymentIntentId: string): PaymentIntent;
  customer(customerId: string): Customer;
  paymentMethod(paymentMethodId: string): PaymentMethod;
  /** Every transfer made so far, oldest first (copies; failed transfers are not made). */
  readonly transfers: readonly Transfer[];
  /** The account as the API would return it; throws for an unknown id. */
  account(accountId: string): Account;
  /**
   * What completing the onboarding page does, without the page: details submitted, charges and
   * payouts enabled, `account.updated` emitted (not again for an account already onboarded).
   * Throws for an unknown id.
   */
  completeOnboarding(accountId: string): Account;
  /** Resolves when no webhook delivery is pending. */
  idle(): Promise<void>;
  /** Closes the server and cancels pending deliveries and timers. */
  stop(): Promise<void>;
}

export async function startStripeStandIn(options: StripeStandInOptions): Promise<StripeStandIn> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  let webhookUrl = options.webhookUrl;
  // Known only once the server listens; sessions and links are created after that, so it is set in time.
  let baseUrl = '';
  const checkoutUrl = (sessionId: string) => `${baseUrl}/checkout/${sessionId}`;
  const onboardingUrl = (token: string) => `${baseUrl}${ONBOARDING_PATH}/${token}`;

  const dispatcher = new WebhookDispatcher({
    secret: options.webhookSecret,
    url: () => webhookUrl,
    retryBaseMs: options.retryBaseMs ?? 500,
    maxAttempts: options.maxDeliveryAttempts ?? 8,
    log,
  });
  const store = new StandInStore({
    checkoutUrl,
    onboardingUrl,
    accountLinkLifetimeSeconds: options.accountLinkLifetimeSeconds ?? 300,
    portalUrl: (token) => `${baseUrl}${PORTAL_PATH}/${token}`,
    receiptUrl: (chargeId) => `${baseUrl}${RECEIPT_PATH}/${chargeId}`,
    portalLifetimeSeconds: options.portalLifetimeSeconds ?? 3600,
    onEvent: (event) => dispatcher.enqueue(event),
  });
  const secretKey = options.secretKey ?? STAND_IN_SECRET_KEY;
  const app = createStandInApp({ store, idempotency: new IdempotencyCache(), secretKey, checkoutUrl, log });

  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url: baseUrl,
    host,
    port,
    secretKey,
    faults: dispatcher.faults,
    deliveries: dispatcher.deliveries,
    events: store.events,
    setWebhookUrl: (url) => {
      webhookUrl = url;
    },
    // A copy: callers must not change the stand-in's state behind its back.
    session: (sessionId) => structuredClone(store.getSession(sessionId)),
    paySession: (sessionId, payOptions) => store.pay(sessionId, payOptions?.card),
    simulateDuplicateCharge: (sessionId) => store.duplicateCharge(sessionId),
    emit: (type, object) => store.emit(type, object),
    redeliver: (eventId) => dispatcher.enqueue(store.getEvent(eventId)),
    transferFaults: store.connect.transferFaults,
    refundFaults: store.refundFaults,
    openDispute: (target, disputeOptions) => structuredClone(store.disputes.open(target, disputeOptions)),
    closeDispute: (disputeId, outcome) => structuredClone(store.disputes.close(disputeId, outcome)),
    dispute: (disputeId) => structuredClone(store.disputes.get(disputeId)),
    paymentIntent: (id) => structuredClone(store.getPaymentIntent(id)),
    customer: (id) => structuredClone(store.customers.getCustomer(id)),
    paymentMethod: (id) => structuredClone(store.customers.getPaymentMethod(id)),
    get transfers() {
      return structuredClone(store.connect.transfers);
    },
    account: (accountId) => structuredClone(store.connect.getAccount(accountId)),
    completeOnboarding: (accountId) => structuredClone(store.connect.completeOnboarding(accountId)),
    idle: () => dispatcher.idle(),
    stop: async () => {
      store.stop();
      dispatcher.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
