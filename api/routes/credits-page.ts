import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import { z } from 'zod';
import type { UseCases } from '../../app';
import type { Ledger } from '../../db/ledger';
import { listMail } from '../../db/outbox';
import { listPackages } from '../../db/packages';
import type { Sql } from '../../db/pool';
import { findPurchase, listPurchases } from '../../db/purchases';
import { dayRange, usageSummary } from '../../db/usage';
import { findUserByApiKey, type User } from '../../db/users';
import { NotFound } from '../../domain';
import {
  BUY_PATH,
  creditsPage,
  messagePage,
  SIGN_IN_PATH,
  SIGN_OUT_PATH,
  signInPage,
} from '../pages/credits';
import { visibleText } from '../schemas';
import { crossOrigin, sessionToken, signIn, signOut } from '../session';
import { checkoutReturnUrl, startedPurchaseView } from './purchases';

const PAGE_PATH = '/usercredits';
const RECENT = 10;
const USAGE_DAYS = 30;

/** Other query parameters (tracking tags and the like) are ignored; these two are checked. */
const pageQuery = z.object({
  purchase: z.uuid().optional(),
  cancelled: z.literal('1').optional(),
});
/** Where to go after signing in: only the credits page itself, optionally back from Checkout. */
const RETURN_TO = /^\/usercredits(\?purchase=[0-9a-f-]{36}(&cancelled=1)?)?$/;
const signInForm = z.object({
  apiKey: z.string().trim().min(1).max(200),
  returnTo: z.string().regex(RETURN_TO).optional(),
});
const buyForm = z.object({
  packageId: visibleText(100),
  /** A key per rendered Buy form (CreditsPageView.newRequestId): a double submit is one purchase. */
  requestId: z.uuid().optional(),
});

/**
 * The credits page (DESIGN.md §2, §9: `GET /usercredits`): server-rendered HTML for browsers
 * signed in by cookie (api/session.ts) and for bearer clients alike. Buying posts a form here,
 * which starts the purchase exactly as `POST /v1/purchases` does and sends the browser to
 * Checkout; Checkout sends it back to `/usercredits?purchase=<id>`.
 */
export function creditsPageRouter(
  deps: { sql: Sql; ledger: Ledger; optionalUser: RequestHandler } & Pick<UseCases, 'startPurchase'>,
): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '10kb', parameterLimit: 10 });

  router.get(PAGE_PATH, deps.optionalUser, async (req, res) => {
    const query = pageQuery.safeParse(req.query);
    if (!query.success) {
      sendPage(res, 400, messagePage('Bad link', 'This credits page link is malformed.'));
      return;
    }
    const { purchase, cancelled } = query.data;
    const user = res.locals.user as User | undefined;
    if (!user) {
      const returnTo = purchase ? returnPath(purchase, cancelled === '1') : undefined;
      sendPage(res, 200, signInPage({ returnTo }));
      return;
    }
    sendPage(res, 200, await renderCreditsPage(deps, user, req, purchase, cancelled === '1'));
  });

  router.post(SIGN_IN_PATH, form, async (req, res) => {
    if (refuseCrossSite(req, res)) return;
    const body = signInForm.safeParse(req.body ?? {});
    if (!body.success) {
      sendPage(res, 400, signInPage({ error: 'Enter your API key to sign in.' }));
      return;
    }
    const user = await findUserByApiKey(deps.sql, body.data.apiKey);
    if (!user) {
      const error = 'That API key is not valid. Check it and try again.';
      sendPage(res, 401, signInPage({ error, returnTo: body.data.returnTo }));
      return;
    }
    await signIn(deps.sql, req, res, user);
    res.redirect(303, body.data.returnTo ?? PAGE_PATH);
  });

  router.post(SIGN_OUT_PATH, async (req, res) => {
    if (refuseCrossSite(req, res)) return;
    await signOut(deps.sql, req, res);
    res.redirect(303, PAGE_PATH);
  });

  router.post(BUY_PATH, form, deps.optionalUser, async (req, res) => {
    if (refuseCrossSite(req, res)) return;
    const user = res.locals.user as User | undefined;
    if (!user) {
      sendPage(res, 401, signInPage({ error: 'Your session has ended. Sign in again to buy credits.' }));
      return;
    }
    const body = buyForm.safeParse(req.body ?? {});
    if (!body.success) {
      sendPage(res, 400, messagePage('Choose a package', 'Pick one of the packages on the credits page.'));
      return;
    }
    const { packageId, requestId } = body.data;
    try {
      const key = requestId ? `credits-page:${requestId}` : undefined;
      const purchase = startedPurchaseView(
        await deps.startPurchase({ user, packageId, key, returnUrl: checkoutReturnUrl(req) }),
      );
      // A replayed form whose purchase is already settled has no checkout: show its outcome.
      res.redirect(303, purchase.checkoutUrl ?? returnPath(purchase.id, false));
    } catch (error) {
      if (!(error instanceof NotFound)) throw error;
      sendPage(res, 404, messagePage('Package not available', 'That package is not available to you.'));
    }
  });

  return router;
}

async function renderCreditsPage(
  deps: { sql: Sql; ledger: Ledger },
  user: User,
  req: Request,
  purchaseId: string | undefined,
  cancelled: boolean,
): Promise<string> {
  const { from, to } = dayRange(USAGE_DAYS);
  const [balance, packages, purchases, usage, notices, returned] = await Promise.all([
    deps.ledger.balance(user.id),
    listPackages(deps.sql, user.id),
    listPurchases(deps.sql, user.id, RECENT),
    usageSummary(deps.sql, user.id, from, to),
    listMail(deps.sql, user.id, { limit: RECENT }),
    purchaseId ? findPurchase(deps.sql, purchaseId) : Promise.resolve(null),
  ]);
  return creditsPage({
    email: user.email,
    hasSession: sessionToken(req) !== null,
    balance,
    packages,
    purchases,
    usage,
    notices,
    // Someone else's purchase id shows as not found: nothing about it leaks.
    returned: purchaseId ? { purchase: returned?.userId === user.id ? returned : null, cancelled } : null,
    newRequestId: randomUUID,
  });
}

function returnPath(purchaseId: string, cancelled: boolean): string {
  return `${PAGE_PATH}?purchase=${purchaseId}${cancelled ? '&cancelled=1' : ''}`;
}

/**
 * Form posts that act on the session (sign in, sign out, buy) must come from this site's own
 * pages. SameSite=Lax already keeps the cookie off other sites' posts; this also refuses them by
 * the headers every current browser sends with a form post (Origin, Sec-Fetch-Site). Clients
 * that send neither (curl, scripts) are not browsers and carry no ambient cookie to abuse.
 */
function refuseCrossSite(req: Request, res: Response): boolean {
  if (crossOrigin(req)) {
    sendPage(res, 403, messagePage('Not allowed', 'This form must be sent from the credits page itself.'));
    return true;
  }
  return false;
}

/**
 * Pages hold private data: never cached, never framed, no scripts at all (the page needs none;
 * the only inline code is its stylesheet). No form-action: Buy redirects to Checkout's origin.
 */
function sendPage(res: Response, status: number, page: string): void {
  res
    .status(status)
    .set({
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy':
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
    })
    .send(page);
}
