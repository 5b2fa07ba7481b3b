import { randomBytes } from 'node:crypto';
import { cardDetails, cardDigits } from './cards';
import { invalidRequest, noSuch, StripeApiError } from './errors';
import {
  type BillingPortalSession,
  type Customer,
  type ListPage,
  newId,
  nowSeconds,
  type PaymentMethod,
} from './objects';
import { paginate } from './pagination';
import type {
  CreateCustomerParams,
  CreatePaymentMethodParams,
  CreatePortalSessionParams,
  ListPaymentMethodsParams,
  UpdateCustomerParams,
} from './schemas';

/**
 * Customers, their saved cards (payment methods) and Billing Portal sessions (DESIGN.md §13),
 * as far as saving a card at Checkout, charging it off-session and showing receipts in the
 * customer portal need them. Like StandInStore (which owns this) it knows nothing about HTTP;
 * client-caused failures throw StripeApiError. The card number behind each payment method is
 * kept here, never served: it decides how a charge on it ends (dev/stripe/cards.ts). Unlike
 * Stripe, no `customer.*` or `payment_method.*` events are emitted: nothing here reads them, and
 * the webhook fault injection (drop, duplicate the next event) must keep meaning the checkout's.
 */

export interface CustomerOptions {
  /** The hosted portal page a session's `url` points at. */
  portalUrl(token: string): string;
  /** How long a portal link works; Stripe's last five minutes once opened, a day unopened. */
  portalLifetimeSeconds: number;
}

interface PortalRecord {
  session: BillingPortalSession;
  expiresAt: number;
}

export class CustomerStore {
  private readonly customers = new Map<string, Customer>();
  private readonly paymentMethods = new Map<string, PaymentMethod>();
  /** The digits of each payment method's card. */
  private readonly cards = new Map<string, string>();
  private readonly portals = new Map<string, PortalRecord>();

  constructor(private readonly options: CustomerOptions) {}

  createCustomer(params: CreateCustomerParams): Customer {
    const customer: Customer = {
      id: newId('cus', 14),
      object: 'customer',
      created: nowSeconds(),
      livemode: false,
      email: params.email ?? null,
      name: params.name ?? null,
      description: params.description ?? null,
      metadata: params.metadata ?? {},
      invoice_settings: { default_payment_method: null },
    };
    this.customers.set(customer.id, customer);
    return customer;
  }

  getCustomer(id: string, param = 'customer', status: 400 | 404 = 404): Customer {
    const customer = this.customers.get(id);
    if (!customer) throw noSuch('customer', id, param, status);
    return customer;
  }

  updateCustomer(id: string, params: UpdateCustomerParams): Customer {
    const customer = this.getCustomer(id, 'id');
    if (params.email !== undefined) customer.email = params.email;
    if (params.name !== undefined) customer.name = params.name;
    if (params.description !== undefined) customer.description = params.description;
    if (params.metadata !== undefined) customer.metadata = { ...customer.metadata, ...params.metadata };
    const defaultMethod = params.invoice_settings?.default_payment_method;
    if (defaultMethod !== undefined) {
      const method = this.paymentMethods.get(defaultMethod);
      if (method?.customer !== id) {
        throw invalidRequest(
          `No such PaymentMethod: '${defaultMethod}'; it must be attached to the customer first.`,
          'invoice_settings[default_payment_method]',
          'resource_missing',
        );
      }
      customer.invoice_settings.default_payment_method = defaultMethod;
    }
    return customer;
  }

  /** A card payment method, not attached to anyone yet (test mode takes the raw number). */
  createPaymentMethod(params: CreatePaymentMethodParams): PaymentMethod {
    return this.newPaymentMethod(params.card.number, {
      email: params.billing_details?.email ?? null,
      name: params.billing_details?.name ?? null,
    });
  }

  /** The payment method Checkout made from the card the buyer typed. */
  paymentMethodForCard(card: string | undefined, email: string | null): PaymentMethod {
    return this.newPaymentMethod(card, { email, name: null });
  }

  getPaymentMethod(id: string, param = 'payment_method', status: 400 | 404 = 404): PaymentMethod {
    const method = this.paymentMethods.get(id);
    if (!method) throw noSuch('payment_method', id, param, status);
    return method;
  }

  /** The card number behind a payment method (how a charge on it ends). */
  cardOf(paymentMethodId: string): string {
    return this.cards.get(paymentMethodId) ?? '';
  }

  /** Attaches to `customerId`; a method attached to another Customer is refused, as on Stripe. */
  attach(paymentMethodId: string, customerId: string): PaymentMethod {
    const method = this.getPaymentMethod(paymentMethodId, 'payment_method');
    this.getCustomer(customerId, 'customer', 400);
    if (method.customer === customerId) return method;
    if (method.customer !== null) {
      throw invalidRequest(
        'The payment method you provided has already been attached to a customer.',
        undefined,
        'payment_method_unexpected_state',
      );
    }
    method.customer = customerId;
    return method;
  }

  listPaymentMethods(params: ListPaymentMethodsParams, url = '/v1/payment_methods'): ListPage<PaymentMethod> {
    if (params.customer === undefined) {
      throw invalidRequest('Missing required param: customer.', 'customer');
    }
    this.getCustomer(params.customer, 'customer', 400);
    const mine = [...this.paymentMethods.values()].filter((m) => m.customer === params.customer).reverse();
    return paginate(mine, params, url);
  }

  createPortalSession(params: CreatePortalSessionParams): BillingPortalSession {
    this.getCustomer(params.customer, 'customer', 400);
    const token = randomBytes(18).toString('base64url');
    const created = nowSeconds();
    const session: BillingPortalSession = {
      id: newId('bps', 24),
      object: 'billing_portal.session',
      created,
      livemode: false,
      customer: params.customer,
      return_url: params.return_url ?? null,
      url: this.options.portalUrl(token),
      configuration: 'bpc_stand_in_default',
      locale: null,
      on_behalf_of: null,
      flow: null,
    };
    this.portals.set(token, { session, expiresAt: created + this.options.portalLifetimeSeconds });
    return session;
  }

  /** The portal session a link names, while it works; undefined for an unknown or expired one. */
  portal(token: string): { session: BillingPortalSession; customer: Customer } | undefined {
    const record = this.portals.get(token);
    if (!record) return undefined;
    if (record.expiresAt <= nowSeconds()) {
      this.portals.delete(token);
      return undefined;
    }
    const customer = this.customers.get(record.session.customer);
    return customer ? { session: record.session, customer } : undefined;
  }

  find(id: string): Customer | PaymentMethod | undefined {
    return this.customers.get(id) ?? this.paymentMethods.get(id);
  }

  private newPaymentMethod(
    card: string | undefined,
    billing: { email: string | null; name: string | null },
  ): PaymentMethod {
    const digits = cardDigits(card);
    if (!/^\d{12,19}$/.test(digits)) {
      throw new StripeApiError(
        402,
        'card_error',
        'Your card number is incorrect.',
        'number',
        'incorrect_number',
      );
    }
    const method: PaymentMethod = {
      id: newId('pm', 24),
      object: 'payment_method',
      created: nowSeconds(),
      livemode: false,
      type: 'card',
      customer: null,
      billing_details: billing,
      card: cardDetails(digits),
      metadata: {},
    };
    this.paymentMethods.set(method.id, method);
    this.cards.set(method.id, digits);
    return method;
  }
}
