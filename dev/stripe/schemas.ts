import { type ZodType, z } from 'zod';
import { invalidRequest } from './errors';
import type { FormValue } from './form';

/**
 * zod schemas for every parameter set the stand-in accepts, and the mapping of zod issues to
 * Stripe's error messages. Objects are strict: Stripe answers "Received unknown parameter" to a
 * parameter it does not know, and so does the stand-in, so a typo fails here as it would there.
 */

/** Form values are strings; Stripe parses integers from them, refusing anything else. */
const integer = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/, { message: 'must be an integer' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** `a[0]=x&a[1]=y` arrives as `{ '0': 'x', '1': 'y' }` (see form.ts); a list expects it as an array. */
const listOf = <T extends ZodType>(item: T, bounds: { min?: number; max?: number } = {}) =>
  z.preprocess(
    (value) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
      const entries = Object.entries(value);
      if (!entries.every(([key]) => /^\d+$/.test(key))) return value;
      return entries.sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) => v);
    },
    z
      .array(item)
      .min(bounds.min ?? 0)
      .max(bounds.max ?? 1000),
  );

/**
 * Stripe's metadata limits (50 keys, 40-character keys, 500-character values). An empty value
 * means "unset this key" on Stripe, so it is dropped; `metadata=` (empty) means no metadata.
 */
const metadata = z.preprocess(
  (value) => {
    if (value === '') return {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== ''));
  },
  z
    .record(z.string().min(1).max(40), z.string().max(500))
    .refine((m) => Object.keys(m).length <= 50, { message: 'can have at most 50 keys' }),
);

const currency = z
  .string()
  .regex(/^[A-Za-z]{3}$/, { message: 'must be a three-letter ISO currency code' })
  .transform((c) => c.toLowerCase());

const httpUrl = z.string().regex(/^https?:\/\/\S+$/, { message: 'must be an http or https URL' });

const expand = listOf(z.string().min(1), { max: 20 }).optional();

/** Stripe sends booleans as the strings `true` and `false`. */
const formBoolean = z.enum(['true', 'false']).transform((b) => b === 'true');

/** Real Stripe parameters a purchase flow may send that change nothing the stand-in models. */
const acceptedAndIgnored = z.unknown().optional();

const lineItem = z.strictObject({
  price_data: z.strictObject({
    currency,
    unit_amount: integer(0, 99_999_999),
    product_data: z.strictObject({
      name: z.string().min(1).max(250),
      description: z.string().max(1000).optional(),
      images: acceptedAndIgnored,
      metadata: metadata.optional(),
    }),
  }),
  quantity: integer(1, 999_999),
});

export const createSessionParams = z.strictObject({
  mode: z.literal('payment', { message: "only 'payment' is supported by the stand-in" }),
  line_items: listOf(lineItem, { min: 1, max: 100 }),
  success_url: httpUrl,
  cancel_url: httpUrl.optional(),
  metadata: metadata.optional(),
  client_reference_id: z.string().min(1).max(200).optional(),
  customer_email: z.email().optional(),
  /** An existing Customer (`cus_…`): the payment is theirs, and the card may be saved to them. */
  customer: z.string().min(1).optional(),
  expires_at: integer(0).optional(),
  payment_intent_data: z
    .strictObject({
      metadata: metadata.optional(),
      /** `off_session`: the buyer consents to later charges; the card is attached to `customer`. */
      setup_future_usage: z.enum(['off_session', 'on_session']).optional(),
      description: z.string().max(1000).optional(),
      receipt_email: acceptedAndIgnored,
      statement_descriptor: acceptedAndIgnored,
      statement_descriptor_suffix: acceptedAndIgnored,
    })
    .optional(),
  expand,
  payment_method_types: acceptedAndIgnored,
  locale: acceptedAndIgnored,
  submit_type: acceptedAndIgnored,
  billing_address_collection: acceptedAndIgnored,
  allow_promotion_codes: acceptedAndIgnored,
  customer_creation: acceptedAndIgnored,
  ui_mode: z.literal('hosted').optional(),
});
export type CreateSessionParams = z.output<typeof createSessionParams>;

export const createRefundParams = z.strictObject({
  payment_intent: z.string().min(1).optional(),
  charge: z.string().min(1).optional(),
  amount: integer(1).optional(),
  reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).optional(),
  metadata: metadata.optional(),
  expand,
  instructions_email: acceptedAndIgnored,
});
export type CreateRefundParams = z.output<typeof createRefundParams>;

export const retrieveParams = z.strictObject({ expand });

const pageParams = {
  limit: integer(1, 100).default(10),
  starting_after: z.string().min(1).optional(),
  ending_before: z.string().min(1).optional(),
  expand,
};

export const listEventsParams = z.strictObject({
  ...pageParams,
  type: z.string().min(1).optional(),
  types: listOf(z.string().min(1), { max: 20 }).optional(),
});
export type ListEventsParams = z.output<typeof listEventsParams>;

export const listDisputesParams = z.strictObject({
  ...pageParams,
  charge: z.string().min(1).optional(),
  payment_intent: z.string().min(1).optional(),
  created: acceptedAndIgnored,
});
export type ListDisputesParams = z.output<typeof listDisputesParams>;

export const listSessionsParams = z.strictObject({
  ...pageParams,
  payment_intent: z.string().min(1).optional(),
  status: z.enum(['open', 'complete', 'expired']).optional(),
});
export type ListSessionsParams = z.output<typeof listSessionsParams>;

export const createAccountParams = z.strictObject({
  type: z.literal('express', { message: "only 'express' is supported by the stand-in" }),
  email: z.email().optional(),
  country: z
    .string()
    .regex(/^[A-Za-z]{2}$/, { message: 'must be a two-letter ISO country code' })
    .transform((c) => c.toUpperCase())
    .optional(),
  default_currency: currency.optional(),
  // `capabilities[transfers][requested]=true`: what the account is asked to be able to do.
  capabilities: z
    .record(z.string().regex(/^[a-z_]{1,60}$/), z.strictObject({ requested: formBoolean }))
    .optional(),
  metadata: metadata.optional(),
  expand,
  business_type: acceptedAndIgnored,
  business_profile: acceptedAndIgnored,
  settings: acceptedAndIgnored,
  tos_acceptance: acceptedAndIgnored,
});
export type CreateAccountParams = z.output<typeof createAccountParams>;

export const createAccountLinkParams = z.strictObject({
  account: z.string().min(1),
  // Express accounts are updated from their own dashboard, so onboarding is the only link type.
  type: z.literal('account_onboarding', { message: "only 'account_onboarding' is supported" }),
  refresh_url: httpUrl,
  return_url: httpUrl,
  expand,
  collect: acceptedAndIgnored,
  collection_options: acceptedAndIgnored,
});
export type CreateAccountLinkParams = z.output<typeof createAccountLinkParams>;

export const createTransferParams = z.strictObject({
  amount: integer(1, 99_999_999),
  currency,
  destination: z.string().min(1),
  description: z.string().max(1000).optional(),
  metadata: metadata.optional(),
  transfer_group: z.string().min(1).max(500).optional(),
  expand,
});
export type CreateTransferParams = z.output<typeof createTransferParams>;

export const listTransfersParams = z.strictObject({
  ...pageParams,
  destination: z.string().min(1).optional(),
  transfer_group: z.string().min(1).optional(),
});
export type ListTransfersParams = z.output<typeof listTransfersParams>;

export const createCustomerParams = z.strictObject({
  email: z.email().optional(),
  name: z.string().max(256).optional(),
  description: z.string().max(350).optional(),
  metadata: metadata.optional(),
  expand,
  phone: acceptedAndIgnored,
  address: acceptedAndIgnored,
  preferred_locales: acceptedAndIgnored,
});
export type CreateCustomerParams = z.output<typeof createCustomerParams>;

export const updateCustomerParams = z.strictObject({
  email: z.email().optional(),
  name: z.string().max(256).optional(),
  description: z.string().max(350).optional(),
  metadata: metadata.optional(),
  invoice_settings: z.strictObject({ default_payment_method: z.string().min(1).optional() }).optional(),
  expand,
});
export type UpdateCustomerParams = z.output<typeof updateCustomerParams>;

/** Test mode takes raw card numbers (Stripe does too, for accounts allowed to); only `card`. */
export const createPaymentMethodParams = z.strictObject({
  type: z.literal('card', { message: "only 'card' is supported by the stand-in" }),
  card: z.strictObject({
    number: z.string().regex(/^[\d\s-]{12,23}$/, { message: 'must be a card number' }),
    exp_month: integer(1, 12),
    exp_year: integer(2000, 2100),
    cvc: z
      .string()
      .regex(/^\d{3,4}$/)
      .optional(),
  }),
  billing_details: z
    .strictObject({ email: z.email().optional(), name: z.string().max(256).optional() })
    .optional(),
  metadata: metadata.optional(),
  expand,
});
export type CreatePaymentMethodParams = z.output<typeof createPaymentMethodParams>;

export const attachPaymentMethodParams = z.strictObject({ customer: z.string().min(1), expand });

export const listPaymentMethodsParams = z.strictObject({
  ...pageParams,
  customer: z.string().min(1).optional(),
  type: z.literal('card').optional(),
});
export type ListPaymentMethodsParams = z.output<typeof listPaymentMethodsParams>;

export const createPaymentIntentParams = z.strictObject({
  amount: integer(1, 99_999_999),
  currency,
  customer: z.string().min(1).optional(),
  payment_method: z.string().min(1).optional(),
  /** The cardholder is not present (a saved card charged by the merchant); `true`, or Stripe's kinds. */
  off_session: z.union([formBoolean, z.enum(['one_off', 'recurring']).transform(() => true)]).optional(),
  confirm: formBoolean.optional(),
  metadata: metadata.optional(),
  description: z.string().max(1000).optional(),
  setup_future_usage: z.enum(['off_session', 'on_session']).optional(),
  expand,
  receipt_email: acceptedAndIgnored,
  statement_descriptor: acceptedAndIgnored,
  statement_descriptor_suffix: acceptedAndIgnored,
  payment_method_types: acceptedAndIgnored,
  error_on_requires_action: acceptedAndIgnored,
});
export type CreatePaymentIntentParams = z.output<typeof createPaymentIntentParams>;

export const listPaymentIntentsParams = z.strictObject({
  ...pageParams,
  customer: z.string().min(1).optional(),
  created: acceptedAndIgnored,
});
export type ListPaymentIntentsParams = z.output<typeof listPaymentIntentsParams>;

export const createPortalSessionParams = z.strictObject({
  customer: z.string().min(1),
  return_url: httpUrl.optional(),
  expand,
  configuration: acceptedAndIgnored,
  locale: acceptedAndIgnored,
  on_behalf_of: acceptedAndIgnored,
  flow_data: acceptedAndIgnored,
});
export type CreatePortalSessionParams = z.output<typeof createPortalSessionParams>;

/** The hosted onboarding page's form. Not strict, like the checkout page's. */
export const onboardingFormParams = z.object({ action: z.literal('complete') });

/** The hosted checkout page's forms. Not strict: browsers may add fields of their own. */
export const checkoutFormParams = z.object({
  action: z.enum(['pay', 'decline', 'cancel']),
  card: z.string().max(40).optional(),
});

/**
 * Parses `data` or throws Stripe's 400: unknown parameters are reported first, then missing
 * ones ("Missing required param: line_items."), then invalid values, each with `param` in
 * bracket notation as Stripe names it.
 */
export function parseParams<T extends ZodType>(schema: T, data: FormValue): z.output<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const unknown = issues.find((i) => i.code === 'unrecognized_keys');
  if (unknown && unknown.code === 'unrecognized_keys') {
    const param = bracketed([...unknown.path, unknown.keys[0] ?? '']);
    throw invalidRequest(`Received unknown parameter: ${param}`, param);
  }
  const issue = issues[0]!;
  const param = bracketed(issue.path);
  if (valueAt(data, issue.path) === undefined) {
    throw invalidRequest(`Missing required param: ${param}.`, param);
  }
  throw invalidRequest(`Invalid ${param}: ${issue.message}`, param);
}

function bracketed(path: readonly PropertyKey[]): string {
  const [head, ...rest] = path.map(String);
  return (head ?? '') + rest.map((p) => `[${p}]`).join('');
}

function valueAt(data: FormValue, path: readonly PropertyKey[]): unknown {
  let current: unknown = data;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[String(key)];
  }
  return current;
}
