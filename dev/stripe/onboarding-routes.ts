import express, { type Response, type Router } from 'express';
import { messagePage } from './checkout-page';
import { FormEncodingError, parseForm } from './form';
import { onboardingPage } from './onboarding-page';
import { onboardingFormParams } from './schemas';
import type { StandInStore } from './store';

/**
 * The hosted Connect onboarding page at `/connect/onboarding/:token` (an account link's `url`):
 * GET shows it, POST with `action=complete` onboards the account and sends the browser to the
 * link's `return_url`. Like the checkout page it needs no API key: the unguessable, single-use
 * link is the credential.
 */
export interface OnboardingDeps {
  store: StandInStore;
}

/** Where the router is mounted; the link URLs the store hands out point here. */
export const ONBOARDING_PATH = '/connect/onboarding';

export function onboardingRouter({ store }: OnboardingDeps): Router {
  const router = express.Router();
  router.use(express.text({ type: 'application/x-www-form-urlencoded', limit: '16kb' }));

  router.get('/:token', (req, res) => {
    const link = store.connect.onboardingLink(req.params.token);
    if (!link) return notFound(res);
    html(res, 200, onboardingPage(link));
  });

  router.post('/:token', (req, res) => {
    if (!isComplete(typeof req.body === 'string' ? req.body : '')) {
      return html(res, 400, messagePage('Bad request', 'Expected action=complete.'));
    }
    const link = store.connect.completeOnboardingLink(req.params.token);
    if (!link) return notFound(res);
    res.redirect(303, link.returnUrl);
  });
  return router;
}

function isComplete(body: string): boolean {
  try {
    return onboardingFormParams.safeParse(parseForm(body)).success;
  } catch (error) {
    if (error instanceof FormEncodingError) return false;
    throw error;
  }
}

/**
 * Stripe sends the browser of an expired or used link to the link's `refresh_url`; the stand-in
 * shows a 404 page instead (its documented contract), so a stale link is plainly visible.
 */
function notFound(res: Response): void {
  html(
    res,
    404,
    messagePage(
      'Link not found',
      'This onboarding link does not exist, has expired or was already used. Ask for a new one.',
    ),
  );
}

function html(res: Response, status: number, body: string): void {
  res.status(status).type('html').send(body);
}
