import express, { type Response, type Router } from 'express';
import { DECLINING_CARD } from './cards';
import { checkoutPage, messagePage } from './checkout-page';
import { FormEncodingError, parseForm } from './form';
import type { CheckoutSession } from './objects';
import { checkoutFormParams } from './schemas';
import type { StandInStore } from './store';

/**
 * The hosted checkout page at `/checkout/:id` (the session's `url`): GET shows it, POST carries
 * out the button pressed (`action=pay|decline|cancel`, DESIGN.md §8). Answers are HTML and
 * redirects, as a browser expects; no API key is needed, as on Stripe's hosted page.
 */
export interface CheckoutDeps {
  store: StandInStore;
  checkoutUrl(sessionId: string): string;
}

export function checkoutRouter({ store, checkoutUrl }: CheckoutDeps): Router {
  const router = express.Router();
  router.use(express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' }));

  router.get('/checkout/:id', (req, res) => {
    const record = store.sessionRecord(req.params.id);
    if (!record) return notFound(res);
    if (record.session.status !== 'open') return closed(res, record.session);
    html(res, 200, checkoutPage({ ...record, checkoutUrl: checkoutUrl(record.session.id) }));
  });

  router.post('/checkout/:id', (req, res) => {
    const id = req.params.id;
    const form = readForm(typeof req.body === 'string' ? req.body : '');
    if (!form) return html(res, 400, messagePage('Bad request', 'Expected action=pay, decline or cancel.'));
    const record = store.sessionRecord(id);
    if (!record) return notFound(res);
    if (record.session.status !== 'open') return closed(res, record.session);

    if (form.action === 'cancel') {
      // As on Stripe, leaving the page does not end the session: it stays open until it expires.
      const cancelUrl = record.session.cancel_url;
      if (cancelUrl) return res.redirect(303, cancelUrl);
      return html(res, 200, messagePage('Checkout cancelled', 'You left checkout without paying.'));
    }
    const card = form.action === 'decline' ? DECLINING_CARD : form.card;
    const result = store.pay(id, card);
    if (result.ok) return res.redirect(303, successUrl(result.session));
    if (result.status === 402) {
      // Declined: the same page again with the error, so the user can fix the card and retry.
      const view = { ...record, checkoutUrl: checkoutUrl(id), error: result.message };
      return html(
        res,
        402,
        checkoutPage(form.action === 'pay' && form.card ? { ...view, card: form.card } : view),
      );
    }
    html(res, result.status, messagePage('Checkout unavailable', result.message));
  });
  return router;
}

/** Stripe fills in the session id where the success URL asks for it (also when URL-escaped). */
function successUrl(session: CheckoutSession): string {
  return session.success_url
    .replaceAll('{CHECKOUT_SESSION_ID}', session.id)
    .replaceAll('%7BCHECKOUT_SESSION_ID%7D', session.id);
}

function readForm(body: string) {
  try {
    const parsed = checkoutFormParams.safeParse(parseForm(body));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (error instanceof FormEncodingError) return undefined;
    throw error;
  }
}

function closed(res: Response, session: CheckoutSession): void {
  if (session.status === 'expired') {
    html(
      res,
      410,
      messagePage('Checkout expired', 'This checkout session has expired. Start a new purchase.'),
    );
  } else {
    html(res, 409, messagePage('Already paid', 'This checkout session is already paid. Nothing more to do.'));
  }
}

function notFound(res: Response): void {
  html(res, 404, messagePage('Not found', 'This checkout session does not exist.'));
}

function html(res: Response, status: number, body: string): void {
  res.status(status).type('html').send(body);
}
