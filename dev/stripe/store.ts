import { formatMoney } from '../../domain';
import { cardDetails, cardDigits, chargeCard, chargeOffSession } from './cards';
import { ConnectStore } from './connect';
import { CustomerStore } from './customers';
import { DisputeStore } from './disputes';
import { cardError, invalidRequest, noSuch, type StripeApiError } from './errors';
import {
  API_VERSION,
  type Charge,
  type CheckoutSession,
  type LineItem,
  type ListPage,
  type Metadata,
  newId,
  nowSeconds,
  type PaymentIntent,
  type PaymentMethod,
  type Refund,
  type StripeEvent,
  type StripeObject,
} from './objects';
import { paginate } from './pagination';
import type {
  CreatePaymentIntentParams,
  CreateRefundParams,
  CreateSessionParams,
  ListEventsParams,
  ListPaymentIntentsParams,
  ListSessionsParams,
} from './schemas';

/**
 * The stand-in's state and every state change, in memory. Each change that Stripe announces
 * with an event emits one here (through `onEvent`, which hands it to webhook delivery); nothing
 * here knows about HTTP. Failures a client can cause throw StripeApiError.
 */

export interface StoreOptions {
  checkoutUrl(sessionId: string): string;
  /** The hosted onboarding page an account link points at. */
  onboardingUrl(token: string): string;
  /** How long an account link works; Stripe's last a few minutes. */
  accountLinkLifetimeSeconds: number;
  /** The hosted Billing Portal page of a session, and the hosted receipt of a charge. */
  portalUrl(token: string): string;
  receiptUrl(chargeId: string): string;
  portalLifetimeSeconds: number;
  onEvent(event: StripeEvent): void;
}

/** Refund failures for tests, settable at any time; a failed refund refunds nothing. */
export interface RefundFaults {
  /** The next `n` refunds that would succeed fail instead, with Stripe's `balance_insufficient`. */
  failNext(n: number): void;
  /** Back to refunds that succeed. */
  reset(): void;
}

export type PayResult =
  | { ok: true; session: CheckoutSession; paymentIntent: PaymentIntent }
  | { ok: false; status: 402 | 404 | 409 | 410; message: string };

interface SessionRecord {
  session: CheckoutSession;
  lineItems: LineItem[];
  /** Stripe copies `payment_intent_data.metadata` (not the session's) onto the payment intent. */
  paymentIntentMetadata: Metadata;
  paymentIntentDescription: string | null;
  /** `payment_intent_data.setup_future_usage`: the card is saved to the session's Customer. */
  setupFutureUsage: 'off_session' | 'on_session' | null;
  /** The digits of the card that paid; a duplicate charge is on the same card. */
  card?: string;
  /** The payment method made from that card (attached to the Customer when saved). */
  paymentMethod?: PaymentMethod;
  expiryTimer?: NodeJS.Timeout;
}

const DEFAULT_LIFETIME_S = 24 * 60 * 60;
const MAX_LIFETIME_S = 24 * 60 * 60;

export class StandInStore {
  /** Oldest first. */
  readonly events: StripeEvent[] = [];
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly paymentIntents = new Map<string, PaymentIntent>();
  private readonly charges = new Map<string, Charge>();
  private readonly refunds = new Map<string, Refund>();
  private stopped = false;
  /** Connect accounts, account links and transfers (a part of the state with its own rules). */
  readonly connect: ConnectStore;
  /** Disputes (chargebacks) of charges. */
  readonly disputes: DisputeStore;
  /** Customers, saved cards and Billing Portal sessions. */
  readonly customers: CustomerStore;
  readonly refundFaults: RefundFaults;
  private refundFailRemaining = 0;

  constructor(private readonly options: StoreOptions) {
    this.connect = new ConnectStore({
      onboardingUrl: options.onboardingUrl,
      linkLifetimeSeconds: options.accountLinkLifetimeSeconds,
      emit: (type, object, account) => this.emit(type, object, account),
    });
    this.customers = new CustomerStore({
      portalUrl: options.portalUrl,
      portalLifetimeSeconds: options.portalLifetimeSeconds,
    });
    this.disputes = new DisputeStore({
      charge: (id) => this.charges.get(id) ?? this.chargeOfIntent(id),
      emit: (type, object) => this.emit(type, object),
    });
    const store = this;
    this.refundFaults = {
      failNext(n: number) {
        if (!Number.isInteger(n) || n < 0)
          throw new RangeError('refundFaults.failNext needs a non-negative integer');
        store.refundFailRemaining = n;
      },
      reset() {
        store.refundFailRemaining = 0;
      },
    };
  }

  /** `account` names the connected account a Connect event is about (`event.account`). */
  emit(type: string, object: unknown, account?: string): StripeEvent {
    const event: StripeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: API_VERSION,
      created: nowSeconds(),
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      // A snapshot: the event shows the object as it was when it happened.
      data: { object: structuredClone(object) },
      ...(account !== undefined ? { account } : {}),
    };
    this.events.push(event);
    this.options.onEvent(event);
    return event;
  }

  createSession(params: CreateSessionParams): CheckoutSession {
    const now = nowSeconds();
    const expiresAt = params.expires_at ?? now + DEFAULT_LIFETIME_S;
    // Stripe wants 30 minutes to 24 hours; the lower bound is relaxed so tests can watch a
    // session expire within seconds.
    if (expiresAt < now + 1) {
      throw invalidRequest(
        'The `expires_at` timestamp must be at least 1 second in the future.',
        'expires_at',
      );
    }
    if (expiresAt > now + MAX_LIFETIME_S) {
      throw invalidRequest(
        'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
        'expires_at',
      );
    }
    const currencies = new Set(params.line_items.map((item) => item.price_data.currency));
    if (currencies.size > 1) {
      throw invalidRequest('All line items must have the same currency.', 'line_items');
    }
    if (params.customer !== undefined && params.customer_email !== undefined) {
      throw invalidRequest('You may only specify one of these parameters: customer, customer_email.');
    }
    const customer =
      params.customer === undefined ? null : this.customers.getCustomer(params.customer, 'customer', 400);
    const setupFutureUsage = params.payment_intent_data?.setup_future_usage ?? null;
    if (setupFutureUsage !== null && customer === null) {
      // Stripe would create a Customer for the saved card; the stand-in asks for one instead.
      throw invalidRequest(
        'The stand-in saves cards only to an existing Customer: pass `customer` with `payment_intent_data[setup_future_usage]`.',
        'customer',
      );
    }
    const currency = params.line_items[0]!.price_data.currency;
    const lineItems = params.line_items.map((item): LineItem => {
      const amount = item.price_data.unit_amount * item.quantity;
      return {
        id: newId('li'),
        object: 'item',
        amount_subtotal: amount,
        amount_total: amount,
        currency,
        description: item.price_data.product_data.name,
        quantity: item.quantity,
        price: {
          id: newId('price'),
          object: 'price',
          currency,
          unit_amount: item.price_data.unit_amount,
          product: newId('prod'),
          type: 'one_time',
        },
      };
    });
    const total = lineItems.reduce((sum, item) => sum + item.amount_total, 0);
    const id = newId('cs_test', 58);
    const session: CheckoutSession = {
      id,
      object: 'checkout.session',
      created: now,
      livemode: false,
      mode: 'payment',
      url: this.options.checkoutUrl(id),
      status: 'open',
      payment_status: 'unpaid',
      amount_subtotal: total,
      amount_total: total,
      currency,
      metadata: params.metadata ?? {},
      client_reference_id: params.client_reference_id ?? null,
      customer_email: params.customer_email ?? null,
      customer_details: null,
      customer: customer?.id ?? null,
      expires_at: expiresAt,
      payment_intent: null,
      success_url: params.success_url,
      cancel_url: params.cancel_url ?? null,
    };
    const record: SessionRecord = {
      session,
      lineItems,
      paymentIntentMetadata: params.payment_intent_data?.metadata ?? {},
      paymentIntentDescription: params.payment_intent_data?.description ?? null,
      setupFutureUsage,
    };
    this.sessions.set(id, record);
    this.scheduleExpiry(record);
    return session;
  }

  getSession(id: string): CheckoutSession {
    const record = this.sessionRecord(id);
    if (!record) throw noSuch('checkout.session', id, 'session');
    return record.session;
  }

  /** The session and its line items, or undefined; for the checkout page. */
  sessionRecord(
    id: string,
  ): { session: CheckoutSession; lineItems: LineItem[]; setupFutureUsage: string | null } | undefined {
    const record = this.sessions.get(id);
    if (record) this.expireIfDue(record);
    return record;
  }

  listSessions(params: ListSessionsParams): ListPage<CheckoutSession> {
    const all = [...this.sessions.values()]
      .map((record) => {
        this.expireIfDue(record);
        return record.session;
      })
      .filter((s) => params.status === undefined || s.status === params.status)
      .filter((s) => params.payment_intent === undefined || s.payment_intent === params.payment_intent)
      .reverse();
    return paginate(all, params, '/v1/checkout/sessions');
  }

  expireSession(id: string): CheckoutSession {
    const record = this.sessions.get(id);
    if (!record) throw noSuch('checkout.session', id, 'session');
    this.expireIfDue(record);
    if (record.session.status !== 'open') {
      throw invalidRequest(
        `Only Checkout Sessions with a status of \`open\` can be expired. This session has a status of \`${record.session.status}\`.`,
      );
    }
    this.expire(record);
    return record.session;
  }

  /** What the Pay button does; a declined card leaves the session open for another try. */
  pay(id: string, card?: string): PayResult {
    const record = this.sessions.get(id);
    if (!record) return { ok: false, status: 404, message: 'This checkout session does not exist.' };
    this.expireIfDue(record);
    const { session } = record;
    if (session.status === 'expired') {
      return { ok: false, status: 410, message: 'This checkout session has expired.' };
    }
    if (session.status === 'complete') {
      return { ok: false, status: 409, message: 'This checkout session is already paid.' };
    }
    const outcome = chargeCard(card);
    if (!outcome.ok) return { ok: false, status: 402, message: outcome.message };
    record.card = cardDigits(card);
    const buyer = session.customer === null ? null : this.customers.getCustomer(session.customer);
    // As on Stripe, the card becomes a payment method; with the buyer's consent
    // (setup_future_usage) it is attached to their Customer for later off-session charges.
    record.paymentMethod = this.customers.paymentMethodForCard(
      record.card,
      session.customer_email ?? buyer?.email ?? null,
    );
    if (buyer && record.setupFutureUsage !== null) this.customers.attach(record.paymentMethod.id, buyer.id);
    const paymentIntent = this.charge(record);
    clearTimeout(record.expiryTimer);
    session.status = 'complete';
    session.payment_status = 'paid';
    session.payment_intent = paymentIntent.id;
    session.url = null;
    session.customer_details = { email: session.customer_email ?? buyer?.email ?? null };
    this.emit('checkout.session.completed', session);
    return { ok: true, session, paymentIntent };
  }

  /**
   * A second successful charge for a paid session, announced by another
   * `checkout.session.completed` whose session carries the new payment intent. The stored
   * session keeps its first payment intent: the duplicate is money the system must give back.
   */
  duplicateCharge(id: string): { paymentIntent: PaymentIntent; event: StripeEvent } {
    const record = this.sessions.get(id);
    if (!record) throw new Error(`no checkout session ${id}`);
    if (record.session.status !== 'complete') {
      throw new Error(`checkout session ${id} is ${record.session.status}, not complete: pay it first`);
    }
    const paymentIntent = this.charge(record);
    const event = this.emit('checkout.session.completed', {
      ...record.session,
      payment_intent: paymentIntent.id,
    });
    return { paymentIntent, event };
  }

  createRefund(params: CreateRefundParams): Refund {
    if ((params.payment_intent === undefined) === (params.charge === undefined)) {
      throw invalidRequest(
        'One of the following params should be provided for this request: payment_intent or charge.',
      );
    }
    const charge = params.payment_intent
      ? this.chargeOf(params.payment_intent)
      : this.charges.get(params.charge ?? '');
    if (!charge) throw noSuch('charge', params.charge ?? '', 'charge', 400);
    const disputed = this.disputes.refusesRefund(charge);
    if (disputed) throw disputed;
    const remaining = charge.amount - charge.amount_refunded;
    if (remaining === 0) {
      throw invalidRequest(
        `Charge ${charge.id} has already been refunded.`,
        undefined,
        'charge_already_refunded',
      );
    }
    const amount = params.amount ?? remaining;
    if (amount > remaining) {
      throw invalidRequest(
        `Refund amount (${formatMoney(amount, charge.currency)}) is greater than unrefunded amount on charge ` +
          `(${formatMoney(remaining, charge.currency)})`,
        'amount',
      );
    }
    if (this.refundFailRemaining > 0) {
      this.refundFailRemaining--;
      throw refundBalanceInsufficient();
    }
    const refund: Refund = {
      id: newId('re'),
      object: 'refund',
      created: nowSeconds(),
      amount,
      charge: charge.id,
      currency: charge.currency,
      payment_intent: charge.payment_intent,
      reason: params.reason ?? null,
      status: 'succeeded',
      metadata: params.metadata ?? {},
    };
    this.refunds.set(refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    this.emit('charge.refunded', charge);
    return refund;
  }

  getRefund(id: string): Refund {
    const refund = this.refunds.get(id);
    if (!refund) throw noSuch('refund', id, 'id');
    return refund;
  }

  getPaymentIntent(id: string): PaymentIntent {
    const paymentIntent = this.paymentIntents.get(id);
    if (!paymentIntent) throw noSuch('payment_intent', id, 'intent');
    return paymentIntent;
  }

  /**
   * A payment intent created through the API: with `confirm=true` (the only kind the stand-in
   * runs), the payment method is charged at once. Off-session (`off_session=true`: a saved card,
   * the cardholder away) a card that declines or needs authentication fails with Stripe's 402
   * card_error (`card_declined`, `authentication_required`), carrying the payment intent, now
   * `requires_payment_method` or `requires_action`; `payment_intent.payment_failed` is emitted.
   * A success emits `payment_intent.succeeded` and makes a charge like Checkout's.
   */
  createPaymentIntent(params: CreatePaymentIntentParams): PaymentIntent {
    if (params.confirm !== true) {
      throw invalidRequest('The stand-in runs only payment intents created with `confirm=true`.', 'confirm');
    }
    if (params.payment_method === undefined) {
      throw invalidRequest(
        'You must provide a `payment_method` to confirm this PaymentIntent.',
        'payment_method',
      );
    }
    const customer =
      params.customer === undefined ? null : this.customers.getCustomer(params.customer, 'customer', 400);
    const method = this.customers.getPaymentMethod(params.payment_method, 'payment_method', 400);
    if (method.customer !== (customer?.id ?? null)) {
      throw invalidRequest(
        customer
          ? `The provided PaymentMethod ${method.id} does not belong to the Customer ${customer.id}.`
          : 'The provided PaymentMethod is attached to a Customer: pass that `customer` too.',
        'payment_method',
      );
    }
    const offSession = params.off_session === true;
    if (offSession && customer === null) {
      throw invalidRequest(
        '`off_session` payments need a `customer` with a saved payment method.',
        'customer',
      );
    }
    const created = nowSeconds();
    const paymentIntent: PaymentIntent = {
      id: newId('pi'),
      object: 'payment_intent',
      created,
      livemode: false,
      amount: params.amount,
      amount_received: 0,
      currency: params.currency,
      status: 'requires_payment_method',
      metadata: params.metadata ?? {},
      latest_charge: null,
      description: params.description ?? null,
      customer: customer?.id ?? null,
      payment_method: method.id,
      setup_future_usage: params.setup_future_usage ?? null,
      last_payment_error: null,
      next_action: null,
    };
    this.paymentIntents.set(paymentIntent.id, paymentIntent);
    const outcome = chargeOffSession(this.customers.cardOf(method.id), offSession);
    if (outcome.ok) {
      const charge = this.newCharge(paymentIntent, {
        email: customer?.email ?? null,
        card: this.customers.cardOf(method.id),
      });
      paymentIntent.status = 'succeeded';
      paymentIntent.amount_received = paymentIntent.amount;
      paymentIntent.latest_charge = charge.id;
      this.emit('payment_intent.succeeded', paymentIntent);
      return paymentIntent;
    }
    if (outcome.code === 'authentication_required' && !offSession) {
      // On-session: the cardholder is asked to authenticate (not modelled further); no error.
      paymentIntent.status = 'requires_action';
      paymentIntent.next_action = { type: 'use_stripe_sdk' };
      this.emit('payment_intent.requires_action', paymentIntent);
      return paymentIntent;
    }
    paymentIntent.status =
      outcome.code === 'authentication_required' ? 'requires_action' : 'requires_payment_method';
    if (outcome.code === 'authentication_required') paymentIntent.next_action = { type: 'use_stripe_sdk' };
    paymentIntent.last_payment_error = {
      type: 'card_error',
      code: outcome.code,
      ...(outcome.declineCode !== undefined ? { decline_code: outcome.declineCode } : {}),
      message: outcome.message,
      payment_method: { id: method.id, object: 'payment_method' },
    };
    this.emit('payment_intent.payment_failed', paymentIntent);
    throw cardError(outcome.message, outcome.code, structuredClone(paymentIntent), outcome.declineCode);
  }

  listPaymentIntents(params: ListPaymentIntentsParams): ListPage<PaymentIntent> {
    const all = [...this.paymentIntents.values()]
      .filter((pi) => params.customer === undefined || pi.customer === params.customer)
      .reverse();
    return paginate(all, params, '/v1/payment_intents');
  }

  /** A Customer's payments, newest first, each with its charge (the portal lists them). */
  paymentsOf(customerId: string): { paymentIntent: PaymentIntent; charge: Charge | undefined }[] {
    return [...this.paymentIntents.values()]
      .filter((pi) => pi.customer === customerId)
      .reverse()
      .map((paymentIntent) => ({
        paymentIntent,
        charge:
          paymentIntent.latest_charge === null ? undefined : this.charges.get(paymentIntent.latest_charge),
      }));
  }

  getCharge(id: string): Charge {
    const charge = this.charges.get(id);
    if (!charge) throw noSuch('charge', id, 'id');
    return charge;
  }

  getEvent(id: string): StripeEvent {
    const event = this.events.find((e) => e.id === id);
    if (!event) throw noSuch('event', id, 'id');
    return event;
  }

  listEvents(params: ListEventsParams): ListPage<StripeEvent> {
    const wanted = [...(params.types ?? []), ...(params.type ? [params.type] : [])].map(typeMatcher);
    const matching = this.events
      .filter((e) => wanted.length === 0 || wanted.some((m) => m(e.type)))
      .reverse();
    return paginate(matching, params, '/v1/events');
  }

  /**
   * `object` with `fields` expanded as `?expand[]=` asks: an id becomes the object it names, and
   * a session's `line_items` become a list. Anything else is refused as Stripe refuses it.
   */
  expand(object: StripeObject, fields: readonly string[] | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = { ...object };
    for (const field of fields ?? []) {
      if (object.object === 'checkout.session' && field === 'line_items') {
        const record = this.sessions.get(object.id);
        const url = `/v1/checkout/sessions/${object.id}/line_items`;
        out.line_items = { object: 'list', url, has_more: false, data: record?.lineItems ?? [] };
        continue;
      }
      const value = out[field];
      if (value === null) continue;
      const found = typeof value === 'string' ? this.findById(value) : undefined;
      if (!found) throw invalidRequest(`This property cannot be expanded (${field}).`, 'expand');
      out[field] = found;
    }
    return out;
  }

  /** Cancels the expiry timers, so a stopped stand-in leaves nothing scheduled. */
  stop(): void {
    this.stopped = true;
    for (const record of this.sessions.values()) clearTimeout(record.expiryTimer);
  }

  private findById(id: string): StripeObject | undefined {
    return (
      this.paymentIntents.get(id) ??
      this.charges.get(id) ??
      this.refunds.get(id) ??
      this.sessions.get(id)?.session ??
      this.customers.find(id) ??
      this.connect.find(id) ??
      this.disputes.find(id)
    );
  }

  /** The charge of a payment intent, or undefined (unknown ids included). */
  private chargeOfIntent(paymentIntentId: string): Charge | undefined {
    const paymentIntent = this.paymentIntents.get(paymentIntentId);
    return paymentIntent?.latest_charge ? this.charges.get(paymentIntent.latest_charge) : undefined;
  }

  private chargeOf(paymentIntentId: string): Charge | undefined {
    const paymentIntent = this.paymentIntents.get(paymentIntentId);
    if (!paymentIntent) throw noSuch('payment_intent', paymentIntentId, 'payment_intent', 400);
    return paymentIntent.latest_charge === null ? undefined : this.charges.get(paymentIntent.latest_charge);
  }

  /** A succeeded payment intent and its charge for the session's amount. */
  private charge(record: SessionRecord): PaymentIntent {
    const { session } = record;
    // The brief's consumers read the purchase link from the payment intent and charge, so the
    // session metadata is copied there too; `payment_intent_data.metadata` wins on a clash.
    // Real Stripe copies only `payment_intent_data.metadata`: code that must also work against
    // Stripe should set both.
    const metadata = { ...session.metadata, ...record.paymentIntentMetadata };
    const paymentIntent: PaymentIntent = {
      id: newId('pi'),
      object: 'payment_intent',
      created: nowSeconds(),
      livemode: false,
      amount: session.amount_total,
      amount_received: session.amount_total,
      currency: session.currency,
      status: 'succeeded',
      metadata,
      latest_charge: null,
      description: record.paymentIntentDescription,
      customer: session.customer,
      payment_method: record.paymentMethod?.id ?? null,
      setup_future_usage: record.setupFutureUsage,
      last_payment_error: null,
      next_action: null,
    };
    const email =
      session.customer_email ??
      (session.customer === null ? null : this.customers.getCustomer(session.customer).email);
    const charge = this.newCharge(paymentIntent, { email, card: record.card });
    paymentIntent.latest_charge = charge.id;
    this.paymentIntents.set(paymentIntent.id, paymentIntent);
    return paymentIntent;
  }

  /** The succeeded charge of a payment intent, for its whole amount, on `card`. */
  private newCharge(
    paymentIntent: PaymentIntent,
    payer: { email: string | null; card: string | undefined },
  ): Charge {
    const id = newId('ch');
    const charge: Charge = {
      id,
      object: 'charge',
      created: paymentIntent.created,
      livemode: false,
      amount: paymentIntent.amount,
      amount_captured: paymentIntent.amount,
      amount_refunded: 0,
      currency: paymentIntent.currency,
      captured: true,
      paid: true,
      refunded: false,
      disputed: false,
      status: 'succeeded',
      payment_intent: paymentIntent.id,
      metadata: { ...paymentIntent.metadata },
      billing_details: { email: payer.email },
      receipt_url: this.options.receiptUrl(id),
      payment_method_details: { type: 'card', card: cardDetails(payer.card) },
    };
    this.charges.set(charge.id, charge);
    return charge;
  }

  private scheduleExpiry(record: SessionRecord): void {
    const delay = record.session.expires_at * 1000 - Date.now();
    record.expiryTimer = setTimeout(() => this.expireIfDue(record), Math.max(0, delay));
    // The HTTP server keeps a running stand-in alive; a forgotten timer alone should not.
    record.expiryTimer.unref();
  }

  /** Timers can fire late, so every read also expires a session whose time has passed. */
  private expireIfDue(record: SessionRecord): void {
    if (this.stopped) return;
    if (record.session.status === 'open' && record.session.expires_at * 1000 <= Date.now())
      this.expire(record);
  }

  private expire(record: SessionRecord): void {
    clearTimeout(record.expiryTimer);
    record.session.status = 'expired';
    record.session.url = null;
    this.emit('checkout.session.expired', record.session);
  }
}

/** `checkout.session.*` matches every session event, as Stripe's `type` filter does. */
function typeMatcher(pattern: string): (type: string) => boolean {
  if (!pattern.endsWith('*')) return (type) => type === pattern;
  const prefix = pattern.slice(0, -1);
  return (type) => type.startsWith(prefix);
}

/** A refund that ran and failed on the platform's balance; Stripe replays it for the same key. */
function refundBalanceInsufficient(): StripeApiError {
  const error = invalidRequest(
    'Your Stripe balance is insufficient to cover this refund. Add funds to your balance and try again.',
    undefined,
    'balance_insufficient',
  );
  error.replayedForSameKey = true;
  return error;
}
