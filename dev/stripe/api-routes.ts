import { timingSafeEqual } from 'node:crypto';
import express, { type Request, type RequestHandler, type Router } from 'express';
import { invalidRequest, StripeApiError } from './errors';
import { type FormObject, parseForm } from './form';
import type { IdempotencyCache } from './idempotency';
import type { StripeObject } from './objects';
import {
  attachPaymentMethodParams,
  createAccountLinkParams,
  createAccountParams,
  createCustomerParams,
  createPaymentIntentParams,
  createPaymentMethodParams,
  createPortalSessionParams,
  createRefundParams,
  createSessionParams,
  createTransferParams,
  listDisputesParams,
  listEventsParams,
  listPaymentIntentsParams,
  listPaymentMethodsParams,
  listSessionsParams,
  listTransfersParams,
  parseParams,
  retrieveParams,
  updateCustomerParams,
} from './schemas';
import type { StandInStore } from './store';

/**
 * Stripe's REST API under /v1, as far as a credit-purchase system uses it, payouts to Connect
 * accounts included. Parameters arrive form-encoded (POST body, GET query), are parsed by form.ts
 * and validated by schemas.ts; every POST honours `Idempotency-Key`.
 */
export interface ApiDeps {
  store: StandInStore;
  idempotency: IdempotencyCache;
  /** The one secret key this stand-in accepts, as a Stripe account accepts only its own keys. */
  secretKey: string;
}

export function apiRouter({ store, idempotency, secretKey }: ApiDeps): Router {
  const router = express.Router();
  router.use(requireSecretKey(secretKey));
  router.use(express.text({ type: 'application/x-www-form-urlencoded', limit: '256kb' }));

  const post = (path: string, handler: (params: FormObject, req: Request) => unknown) =>
    router.post(path, idempotent(idempotency, handler));
  const get = (path: string, handler: (params: FormObject, req: Request) => unknown) =>
    router.get(path, (req, res) => {
      res.json(handler(parseForm(queryOf(req)), req));
    });

  post('/checkout/sessions', (params) => {
    const parsed = parseParams(createSessionParams, params);
    return store.expand(store.createSession(parsed), parsed.expand);
  });
  get('/checkout/sessions', (params) => {
    const parsed = parseParams(listSessionsParams, params);
    return expandList(store, store.listSessions(parsed), parsed.expand);
  });
  get('/checkout/sessions/:id', (params, req) =>
    store.expand(store.getSession(idParam(req)), parseParams(retrieveParams, params).expand),
  );
  get('/checkout/sessions/:id/line_items', (params, req) => {
    parseParams(retrieveParams, params);
    return store.expand(store.getSession(idParam(req)), ['line_items']).line_items;
  });
  post('/checkout/sessions/:id/expire', (params, req) =>
    store.expand(store.expireSession(idParam(req)), parseParams(retrieveParams, params).expand),
  );

  post('/refunds', (params) => {
    const parsed = parseParams(createRefundParams, params);
    return store.expand(store.createRefund(parsed), parsed.expand);
  });
  get('/refunds/:id', (params, req) =>
    store.expand(store.getRefund(idParam(req)), parseParams(retrieveParams, params).expand),
  );
  // Customers, saved cards, off-session payments and the customer portal (dev/stripe/customers.ts).
  post('/customers', (params) => {
    const parsed = parseParams(createCustomerParams, params);
    return store.expand(store.customers.createCustomer(parsed), parsed.expand);
  });
  get('/customers/:id', (params, req) =>
    store.expand(store.customers.getCustomer(idParam(req)), parseParams(retrieveParams, params).expand),
  );
  post('/customers/:id', (params, req) => {
    const parsed = parseParams(updateCustomerParams, params);
    return store.expand(store.customers.updateCustomer(idParam(req), parsed), parsed.expand);
  });
  get('/customers/:id/payment_methods', (params, req) => {
    const parsed = parseParams(listPaymentMethodsParams, { ...params, customer: idParam(req) });
    return store.customers.listPaymentMethods(parsed, `/v1/customers/${idParam(req)}/payment_methods`);
  });
  post('/payment_methods', (params) => {
    const parsed = parseParams(createPaymentMethodParams, params);
    return store.expand(store.customers.createPaymentMethod(parsed), parsed.expand);
  });
  get('/payment_methods', (params) => {
    const parsed = parseParams(listPaymentMethodsParams, params);
    return expandList(store, store.customers.listPaymentMethods(parsed), parsed.expand);
  });
  get('/payment_methods/:id', (params, req) =>
    store.expand(store.customers.getPaymentMethod(idParam(req)), parseParams(retrieveParams, params).expand),
  );
  post('/payment_methods/:id/attach', (params, req) => {
    const parsed = parseParams(attachPaymentMethodParams, params);
    return store.expand(store.customers.attach(idParam(req), parsed.customer), parsed.expand);
  });
  post('/payment_intents', (params) => {
    const parsed = parseParams(createPaymentIntentParams, params);
    return store.expand(store.createPaymentIntent(parsed), parsed.expand);
  });
  get('/payment_intents', (params) => {
    const parsed = parseParams(listPaymentIntentsParams, params);
    return expandList(store, store.listPaymentIntents(parsed), parsed.expand);
  });
  post('/billing_portal/sessions', (params) => {
    const parsed = parseParams(createPortalSessionParams, params);
    return store.expand(store.customers.createPortalSession(parsed), parsed.expand);
  });
  get('/payment_intents/:id', (params, req) =>
    store.expand(store.getPaymentIntent(idParam(req)), parseParams(retrieveParams, params).expand),
  );
  get('/charges/:id', (params, req) =>
    store.expand(store.getCharge(idParam(req)), parseParams(retrieveParams, params).expand),
  );
  get('/disputes', (params) => {
    const parsed = parseParams(listDisputesParams, params);
    return expandList(store, store.disputes.list(parsed), parsed.expand);
  });
  get('/disputes/:id', (params, req) =>
    store.expand(store.disputes.get(idParam(req)), parseParams(retrieveParams, params).expand),
  );

  post('/accounts', (params) => {
    const parsed = parseParams(createAccountParams, params);
    return store.expand(store.connect.createAccount(parsed), parsed.expand);
  });
  get('/accounts/:id', (params, req) =>
    store.expand(store.connect.getAccount(idParam(req)), parseParams(retrieveParams, params).expand),
  );
  post('/account_links', (params) =>
    store.connect.createAccountLink(parseParams(createAccountLinkParams, params)),
  );
  post('/transfers', (params) => {
    const parsed = parseParams(createTransferParams, params);
    return store.expand(store.connect.createTransfer(parsed), parsed.expand);
  });
  get('/transfers', (params) => {
    const parsed = parseParams(listTransfersParams, params);
    return expandList(store, store.connect.listTransfers(parsed), parsed.expand);
  });
  get('/transfers/:id', (params, req) =>
    store.expand(store.connect.getTransfer(idParam(req)), parseParams(retrieveParams, params).expand),
  );

  get('/events', (params) => store.listEvents(parseParams(listEventsParams, params)));
  get('/events/:id', (params, req) => {
    parseParams(retrieveParams, params);
    return store.getEvent(idParam(req));
  });

  router.use((req) => {
    throw new StripeApiError(
      404,
      'invalid_request_error',
      `Unrecognized request URL (${req.method}: ${req.originalUrl.split('?')[0]}). ` +
        'The Stripe stand-in serves only what the credits system uses.',
    );
  });
  return router;
}

/**
 * Stripe answers 401 to any key that is not one of the account's own; so does the stand-in, to
 * every key but its own: a client configured with some other key (a real one, another stand-in's)
 * fails here as it would against Stripe, instead of appearing to work.
 */
function requireSecretKey(secretKey: string): RequestHandler {
  const expected = Buffer.from(secretKey);
  return (req, _res, next) => {
    const match = /^Bearer (\S+)$/.exec(req.get('authorization') ?? '');
    if (!match) {
      throw new StripeApiError(
        401,
        'invalid_request_error',
        'You did not provide an API key. You need to provide your API key in the Authorization header, ' +
          "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      );
    }
    const key = match[1]!;
    const given = Buffer.from(key);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new StripeApiError(401, 'invalid_request_error', `Invalid API Key provided: ${redact(key)}`);
    }
    next();
  };
}

function redact(key: string): string {
  return key.length <= 12 ? `${key.slice(0, 3)}****` : `${key.slice(0, 8)}****${key.slice(-4)}`;
}

/**
 * Replays the stored response for a repeated `Idempotency-Key` (or refuses a conflicting one),
 * else runs `handler` and stores its response. Successes are stored, and errors of requests that
 * ran and failed (`replayedForSameKey`); a refused request did not happen, so retrying it with
 * the same key once fixed must work.
 */
function idempotent(
  cache: IdempotencyCache,
  handler: (params: FormObject, req: Request) => unknown,
): RequestHandler {
  return (req, res) => {
    const params = parseForm(typeof req.body === 'string' ? req.body : '');
    const key = req.get('idempotency-key');
    const endpoint = `${req.method} ${req.baseUrl}${req.path}`;
    if (key !== undefined) {
      res.set('Idempotency-Key', key);
      const stored = cache.replay(key, endpoint, params);
      if (stored) {
        res.set('Idempotent-Replayed', 'true');
        res.status(stored.status).json(stored.body);
        return;
      }
    }
    const body = runStoringFailures(
      () => handler(params, req),
      (error) => {
        if (key !== undefined)
          cache.store(key, endpoint, params, { status: error.status, body: error.toBody() });
      },
    );
    if (key !== undefined) cache.store(key, endpoint, params, { status: 200, body });
    res.json(body);
  };
}

/** Runs `handler`; an error that Stripe would replay for the same key is handed to `store` first. */
function runStoringFailures(handler: () => unknown, store: (error: StripeApiError) => void): unknown {
  try {
    return handler();
  } catch (error) {
    if (error instanceof StripeApiError && error.replayedForSameKey) store(error);
    throw error;
  }
}

/** On lists Stripe names expansions through the items: `expand[]=data.payment_intent`. */
function expandList<T extends StripeObject>(
  store: StandInStore,
  page: { object: 'list'; url: string; has_more: boolean; data: T[] },
  expand: readonly string[] | undefined,
) {
  if (!expand?.length) return page;
  const fields = expand.map((field) => {
    if (!field.startsWith('data.'))
      throw invalidRequest(`This property cannot be expanded (${field}).`, 'expand');
    return field.slice('data.'.length);
  });
  return { ...page, data: page.data.map((item) => store.expand(item, fields)) };
}

function idParam(req: Request): string {
  const id = req.params.id;
  return typeof id === 'string' ? id : '';
}

function queryOf(req: Request): string {
  const index = req.originalUrl.indexOf('?');
  return index === -1 ? '' : req.originalUrl.slice(index + 1);
}
