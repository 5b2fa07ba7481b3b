import express, { type ErrorRequestHandler, type Express } from 'express';
import { type ApiDeps, apiRouter } from './api-routes';
import { checkoutRouter } from './checkout-routes';
import { StripeApiError } from './errors';
import { FormEncodingError } from './form';
import { API_VERSION, newId } from './objects';
import { ONBOARDING_PATH, onboardingRouter } from './onboarding-routes';
import { portalRouter } from './portal';

/**
 * The stand-in's HTTP surface: Stripe's API under /v1, the hosted checkout and onboarding pages,
 * the Billing Portal and receipts.
 */
export interface StandInAppDeps extends ApiDeps {
  checkoutUrl(sessionId: string): string;
  log(line: string): void;
}

export function createStandInApp(deps: StandInAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((req, res, next) => {
    // Every Stripe response carries a request id (the SDK exposes it on errors and responses).
    res.set('Request-Id', newId('req', 14));
    res.set('Stripe-Version', req.get('stripe-version') ?? API_VERSION);
    res.on('finish', () => deps.log(`${req.method} ${req.originalUrl} → ${res.statusCode}`));
    next();
  });
  app.use('/v1', apiRouter(deps));
  app.use(ONBOARDING_PATH, onboardingRouter(deps));
  app.use(checkoutRouter(deps));
  app.use(portalRouter(deps));
  app.use(errorHandler(deps.log));
  return app;
}

/** Every failure leaves in Stripe's error shape, so the SDK raises the class Stripe would. */
function errorHandler(log: (line: string) => void): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const known = toStripeError(error);
    if (!known)
      log(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    const stripeError =
      known ?? new StripeApiError(500, 'api_error', 'An unexpected error occurred in the stand-in.');
    // A retry of the same request would fail the same way; tell the SDK not to bother.
    if (stripeError.status >= 500) res.set('Stripe-Should-Retry', 'false');
    res.status(stripeError.status).json(stripeError.toBody());
  };
}

function toStripeError(error: unknown): StripeApiError | undefined {
  if (error instanceof StripeApiError) return error;
  if (error instanceof FormEncodingError) {
    return new StripeApiError(400, 'invalid_request_error', error.message, error.param || undefined);
  }
  // body-parser's errors (too large, bad charset) carry a 4xx status.
  if (error instanceof Error && 'status' in error && typeof error.status === 'number' && error.status < 500) {
    return new StripeApiError(error.status, 'invalid_request_error', error.message);
  }
  return undefined;
}
