import type { Request, Response } from 'express';
import { COPY_SCRIPT_HASH } from './pages/earning';
import { PROGRESS_SCRIPT_HASH } from './pages/projects';
import { crossOrigin } from './session';

/**
 * Sends an HTML page (the credits page, sign-up, their forms' answers). Pages hold private data:
 * never cached, never framed, no script but the referral link's copy button and the projects'
 * progress updater, each allowed by its hash (the other inline code is the stylesheet), and no
 * connection but to this origin (the updater's event stream). No form-action on the credits page: Buy redirects to
 * Checkout's origin and payout setup to Stripe's onboarding; the sign-up page posts only to itself.
 */
export function sendPage(
  res: Response,
  status: number,
  page: string,
  options: { formsToSelfOnly?: boolean } = {},
): void {
  const formAction = options.formsToSelfOnly ? "; form-action 'self'" : '';
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': `default-src 'none'; style-src 'unsafe-inline'; script-src '${COPY_SCRIPT_HASH}' '${PROGRESS_SCRIPT_HASH}'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'${formAction}`,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
    })
    .send(page);
}

/**
 * Form posts that act on a session (sign in, buy, withdraw, decide) must come from this site's
 * own pages: true, with `refusal` answered as a 403, when a browser says another origin sent it.
 */
export function refuseCrossSite(req: Request, res: Response, refusal: string): boolean {
  if (!crossOrigin(req)) return false;
  sendPage(res, 403, refusal);
  return true;
}
