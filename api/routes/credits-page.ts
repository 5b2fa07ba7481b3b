import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { EarningSettings, UseCases } from '../../app';
import { findCustomer } from '../../db/customers';
import { earnings } from '../../db/earnings';
import type { Ledger } from '../../db/ledger';
import { listMail } from '../../db/outbox';
import { listPackageRequests } from '../../db/package-requests';
import { listPackages } from '../../db/packages';
import { findPayoutAccount } from '../../db/payout-accounts';
import type { Sql } from '../../db/pool';
import { listProjects } from '../../db/projects';
import { findPurchase, listPurchases } from '../../db/purchases';
import { dayRange, usageSummary } from '../../db/usage';
import { findUserByApiKey, type User } from '../../db/users';
import { listWithdrawals } from '../../db/withdrawals';
import {
  Conflict,
  DomainError,
  formatCredits,
  IdempotencyConflict,
  InsufficientWithdrawable,
  NotFound,
  PayoutAccountRequired,
  ValidationError,
} from '../../domain';
import { statusOf } from '../errors';
import { refuseCrossSite, sendPage } from '../page-response';
import { BILLING_PORTAL_PATH } from '../pages/auto-top-up';
import {
  BUY_PATH,
  creditsPage,
  messagePage,
  PACKAGE_REQUEST_PATH,
  SIGN_IN_PATH,
  SIGN_OUT_PATH,
  signInPage,
} from '../pages/credits';
import { type EarningView, PAYOUT_ACCOUNT_PATH, WITHDRAW_PATH } from '../pages/earning';
import { uuidOf, visibleText } from '../schemas';
import { sessionToken, signIn, signOut } from '../session';
import { packageRequestBody } from './package-requests';
import { checkoutReturnUrl, startedPurchaseView } from './purchases';

const PAGE_PATH = '/usercredits';
const NOT_HERE = messagePage('Not allowed', 'This form must be sent from the credits page itself.');
const RECENT = 10;
const USAGE_DAYS = 30;

/** Other query parameters (tracking tags and the like) are ignored; these two are checked. */
export const pageQuery = z.object({
  purchase: uuidOf('a purchase id').optional(),
  cancelled: z.literal('1').optional(),
});
/** Where to go after signing in: only the credits page itself, optionally back from Checkout. */
const RETURN_TO = /^\/usercredits(\?purchase=[0-9a-f-]{36}(&cancelled=1)?)?$/;
export const signInForm = z.object({
  apiKey: z.string().trim().min(1).max(200),
  returnTo: z.string().regex(RETURN_TO).optional(),
});
export const withdrawForm = z.object({
  credits: z
    .string()
    .regex(/^\d{1,12}$/)
    .transform(Number),
  requestId: uuidOf('a request id').optional(),
});
export const buyForm = z.object({
  packageId: visibleText(100),
  /** A key per rendered Buy form (CreditsPageView.newRequestId): a double submit is one purchase. */
  requestId: uuidOf('a request id').optional(),
});
/** The contact-sales form: the API's body (routes/package-requests.ts) from form strings. */
export const salesForm = z.object({
  credits: z
    .string()
    .regex(/^\d{1,12}$/, { message: 'must be a whole number' })
    .transform(Number),
  message: z.string().transform((m) => (m.trim() === '' ? undefined : m)),
  requestId: uuidOf('a request id').optional(),
});

/**
 * The credits page (DESIGN.md §2, §9: `GET /usercredits`): server-rendered HTML for browsers
 * signed in by cookie (api/session.ts) and for bearer clients alike. Buying posts a form here,
 * which starts the purchase exactly as `POST /v1/purchases` does and sends the browser to
 * Checkout; Checkout sends it back to `/usercredits?purchase=<id>`.
 */
type PageDeps = { sql: Sql; ledger: Ledger; optionalUser: RequestHandler } & Pick<
  UseCases,
  | 'startPurchase'
  | 'referralSummary'
  | 'openPayoutAccount'
  | 'requestWithdrawal'
  | 'earning'
  | 'requestPackage'
  | 'openBillingPortal'
  | 'autoTopUpView'
>;

export function creditsPageRouter(deps: PageDeps): Router {
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
    if (refuseCrossSite(req, res, NOT_HERE)) return;
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
    if (refuseCrossSite(req, res, NOT_HERE)) return;
    await signOut(deps.sql, req, res);
    res.redirect(303, PAGE_PATH);
  });

  router.post(BUY_PATH, form, deps.optionalUser, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE)) return;
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
      // Archived, expired or sold out (app/packages.ts): say which.
      if (error instanceof Conflict) {
        const why = error.message.replace(/^packageId: /, '');
        sendPage(
          res,
          409,
          messagePage('Package not available', `That package can no longer be bought: ${why}.`),
        );
        return;
      }
      if (!(error instanceof NotFound)) throw error;
      sendPage(res, 404, messagePage('Package not available', 'That package is not available to you.'));
    }
  });

  router.post(PACKAGE_REQUEST_PATH, form, deps.optionalUser, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE)) return;
    const user = res.locals.user as User | undefined;
    if (!user) {
      sendPage(res, 401, signInPage({ error: 'Your session has ended. Sign in again to contact sales.' }));
      return;
    }
    const fields = salesForm.safeParse({ message: '', ...req.body });
    const body = fields.success
      ? packageRequestBody.safeParse({ credits: fields.data.credits, message: fields.data.message })
      : fields;
    if (!fields.success || !body.success) {
      const text = 'Enter how many credits you need (a whole number) and, if you like, a short message.';
      sendPage(res, 400, messagePage('Check your request', text));
      return;
    }
    try {
      const key = fields.data.requestId ? `credits-page:${fields.data.requestId}` : undefined;
      await deps.requestPackage({
        user,
        credits: body.data.credits,
        message: body.data.message ?? null,
        key,
      });
      res.redirect(303, `${PAGE_PATH}#contact-sales-section`);
    } catch (error) {
      if (!(error instanceof Conflict)) throw error;
      sendPage(res, 409, messagePage('Request not sent', error.message));
    }
  });

  // The customer portal (receipts, saved card): Stripe's page, reached through a fresh session.
  router.post(BILLING_PORTAL_PATH, deps.optionalUser, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE)) return;
    const user = res.locals.user as User | undefined;
    if (!user) {
      sendPage(
        res,
        401,
        signInPage({ error: 'Your session has ended. Sign in again to see your receipts.' }),
      );
      return;
    }
    try {
      const portal = await deps.openBillingPortal({ userId: user.id, returnUrl: pageUrl(req) });
      res.redirect(303, portal.url);
    } catch (error) {
      if (!(error instanceof Conflict)) throw error;
      sendPage(
        res,
        409,
        messagePage('No receipts yet', 'The customer portal opens after your first purchase.'),
      );
    }
  });

  router.post(PAYOUT_ACCOUNT_PATH, deps.optionalUser, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE)) return;
    const user = res.locals.user as User | undefined;
    if (!user) {
      sendPage(res, 401, signInPage({ error: 'Your session has ended. Sign in again to set up payouts.' }));
      return;
    }
    const account = await deps.openPayoutAccount({ user, returnUrl: pageUrl(req) });
    // Stripe's hosted onboarding; it sends the browser back to this page.
    res.redirect(303, account.onboardingUrl);
  });

  router.post(WITHDRAW_PATH, form, deps.optionalUser, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE)) return;
    const user = res.locals.user as User | undefined;
    if (!user) {
      sendPage(res, 401, signInPage({ error: 'Your session has ended. Sign in again to withdraw.' }));
      return;
    }
    const body = withdrawForm.safeParse(req.body ?? {});
    if (!body.success) {
      sendPage(
        res,
        400,
        messagePage('Enter an amount', 'Enter how many credits to withdraw, a whole number.'),
      );
      return;
    }
    try {
      const key = body.data.requestId ? `credits-page:${body.data.requestId}` : undefined;
      await deps.requestWithdrawal({ user, credits: body.data.credits, key });
      res.redirect(303, `${PAGE_PATH}#withdrawals`);
    } catch (error) {
      // The same refusals as POST /v1/withdrawals, in words on a page.
      if (!(error instanceof DomainError) || error instanceof IdempotencyConflict) throw error;
      sendPage(
        res,
        statusOf(error),
        messagePage('Withdrawal not possible', withdrawalRefusal(error, deps.earning)),
      );
    }
  });

  return router;
}

/** Why a withdrawal was refused, in the page's words (the API's messages name fields). */
function withdrawalRefusal(error: DomainError, earning: EarningSettings): string {
  if (error instanceof InsufficientWithdrawable)
    return `You can withdraw up to ${formatCredits(error.withdrawable)} credits now. Earned credits become withdrawable once they clear.`;
  if (error instanceof PayoutAccountRequired) return 'Set up your payout account first, then withdraw.';
  if (error instanceof ValidationError && error.field === 'credits')
    return `A withdrawal is at least ${formatCredits(earning.withdrawals.minimumCredits)} credits, a whole number.`;
  return error.message;
}

/** This page's absolute URL, as the browser reached it (where Stripe's onboarding returns). */
function pageUrl(req: Request): string {
  return `${req.protocol}://${req.get('host')}${PAGE_PATH}`;
}

async function renderCreditsPage(
  deps: PageDeps,
  user: User,
  req: Request,
  purchaseId: string | undefined,
  cancelled: boolean,
): Promise<string> {
  const { from, to } = dayRange(USAGE_DAYS);
  const [
    balance,
    packages,
    purchases,
    usage,
    notices,
    returned,
    earning,
    packageRequests,
    customer,
    autoTopUp,
    projects,
  ] = await Promise.all([
    deps.ledger.balance(user.id),
    listPackages(deps.sql, user.id),
    listPurchases(deps.sql, user.id, RECENT),
    usageSummary(deps.sql, user.id, from, to),
    listMail(deps.sql, user.id, { limit: RECENT }),
    purchaseId ? findPurchase(deps.sql, purchaseId) : Promise.resolve(null),
    earningView(deps, user, req, from, to),
    listPackageRequests(deps.sql, user.id, RECENT),
    findCustomer(deps.sql, user.id),
    deps.autoTopUpView(user.id),
    listProjects(deps.sql, user.id, RECENT),
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
    earning,
    packageRequests,
    billing: { hasCustomer: customer !== null, autoTopUp },
    projects,
  });
}

async function earningView(
  deps: PageDeps,
  user: User,
  req: Request,
  from: string,
  to: string,
): Promise<EarningView> {
  const [referrals, earned, withdrawals, payoutAccount] = await Promise.all([
    deps.referralSummary({ user, origin: `${req.protocol}://${req.get('host')}`, limit: RECENT }),
    earnings(deps.sql, user.id, from, to),
    listWithdrawals(deps.sql, user.id, { limit: RECENT }),
    findPayoutAccount(deps.sql, user.id),
  ]);
  const terms = deps.earning.withdrawals;
  return {
    referrals,
    earnings: earned,
    withdrawable: earned.withdrawableCredits,
    withdrawals: withdrawals?.withdrawals ?? [],
    payoutAccount,
    minimumWithdrawal: terms.minimumCredits,
    creditValueCents: terms.creditValueCents,
    currency: terms.currency,
    requestId: randomUUID(),
  };
}

function returnPath(purchaseId: string, cancelled: boolean): string {
  return `${PAGE_PATH}?purchase=${purchaseId}${cancelled ? '&cancelled=1' : ''}`;
}
