import express, { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { UseCases } from '../../app';
import { listAllDisputes } from '../../db/disputes';
import { moneyByDay } from '../../db/money-by-day';
import { listAllPackageRequests } from '../../db/package-requests';
import { listAdminPackages } from '../../db/packages';
import type { Sql } from '../../db/pool';
import { listOperatorRefunds } from '../../db/refunds';
import { dayRange } from '../../db/usage';
import { listAllWithdrawals, recentlyClosedWithdrawals } from '../../db/withdrawals';
import { Conflict, DomainError, IdempotencyConflict, NotFound, parseMoney } from '../../domain';
import { WITHDRAWAL_REASON_MAX } from '../../workflows/messages';
import { sameSecret } from '../auth';
import { statusOf } from '../errors';
import { operatorSignedIn, signInOperator, signOutOperator } from '../operator-session';
import { refuseCrossSite, sendPage } from '../page-response';
import {
  ADMIN_PATH,
  ADMIN_SIGN_IN_PATH,
  ADMIN_SIGN_OUT_PATH,
  adminMessagePage,
  adminPage,
  adminSignInPage,
  type WorkflowLink,
} from '../pages/admin';
import { moneySection } from '../pages/admin-charts';
import { disputesSection, refundsSection } from '../pages/admin-money';
import { customPackagesSection, packageRequestsSection } from '../pages/admin-packages';
import { freeText, uuidOf, visibleText } from '../schemas';
import { ownOrigin } from '../session';

const SHOWN = 20;
/** Withdrawals waiting for a decision shown on the page, oldest first. */
const PENDING_SHOWN = 100;
/** The money chart's days, like the credits page's usage (api/routes/credits-page.ts). */
const CHART_DAYS = 30;
const NOT_HERE = adminMessagePage('Not allowed', 'This form must be sent from the operator page itself.');

export const signInForm = z.object({ operatorKey: z.string().trim().min(1).max(200) });
export const idParam = z.object({ id: uuidOf('a withdrawal id'), decision: z.enum(['approve', 'reject']) });
export const answerForm = z.object({
  name: visibleText(200),
  credits: z
    .string()
    .regex(/^\d{1,10}$/)
    .transform(Number),
  price: z.string().max(32),
  currency: z
    .string()
    .trim()
    .regex(/^[A-Za-z]{3}$/)
    .transform((c) => c.toLowerCase()),
});
export const rejectForm = z.object({
  reason: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    freeText(WITHDRAWAL_REASON_MAX).optional(),
  ),
});

export interface AdminPageDeps
  extends Pick<UseCases, 'decideWithdrawal' | 'createCustomPackage' | 'archiveCustomPackage'> {
  sql: Sql;
  adminApiKey: string | undefined;
  /** The Temporal Web UI (`npm start` knows it; TEMPORAL_UI_URL in production); links are omitted without one. */
  temporalUiUrl?: string | undefined;
  namespace: string;
}

/**
 * The operator page (`/admin`, DESIGN.md §12): signed in with the operator key into a cookie
 * session (api/operator-session.ts, the credits page's rules), it lists what waits for a
 * decision and decides it through the same use cases as the operator API.
 */
export function adminPageRouter(deps: AdminPageDeps): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '10kb', parameterLimit: 10 });
  const workflowLink: WorkflowLink = (workflowId) =>
    deps.temporalUiUrl
      ? `${deps.temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(deps.namespace)}/workflows/${encodeURIComponent(workflowId)}`
      : null;

  router.get(ADMIN_PATH, async (req, res) => {
    if (!(await operatorSignedIn(deps.sql, req))) {
      sendPage(res, 200, adminSignInPage());
      return;
    }
    const range = dayRange(CHART_DAYS);
    const [pendingWithdrawals, recentWithdrawals, refunds, disputes, requests, packages, money] =
      await Promise.all([
        listAllWithdrawals(deps.sql, { status: 'pending_approval', limit: PENDING_SHOWN }),
        recentlyClosedWithdrawals(deps.sql, SHOWN),
        listOperatorRefunds(deps.sql, { limit: SHOWN }),
        listAllDisputes(deps.sql, { limit: SHOWN }),
        listAllPackageRequests(deps.sql, { status: 'open', limit: 100 }),
        listAdminPackages(deps.sql, { limit: 200 }),
        moneyByDay(deps.sql, range.from, range.to),
      ]);
    const sections = [
      moneySection(money, range),
      refundsSection(refunds, workflowLink),
      disputesSection(disputes, workflowLink),
      packageRequestsSection(requests),
      customPackagesSection(packages.filter((p) => p.custom).slice(0, SHOWN)),
    ];
    sendPage(
      res,
      200,
      adminPage({
        pendingWithdrawals: pendingWithdrawals?.withdrawals ?? [],
        morePending: pendingWithdrawals?.more ?? false,
        recentWithdrawals,
        sections,
        workflowLink,
      }),
    );
  });

  router.post(ADMIN_SIGN_IN_PATH, form, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE)) return;
    const body = signInForm.safeParse(req.body ?? {});
    if (!body.success) {
      sendPage(res, 400, adminSignInPage({ error: 'Enter the operator key to sign in.' }));
      return;
    }
    if (!deps.adminApiKey || !sameSecret(body.data.operatorKey, deps.adminApiKey)) {
      sendPage(res, 401, adminSignInPage({ error: 'That is not the operator key.' }));
      return;
    }
    await signInOperator(deps.sql, req, res);
    res.redirect(303, ADMIN_PATH);
  });

  router.post(ADMIN_SIGN_OUT_PATH, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE)) return;
    await signOutOperator(deps.sql, req, res);
    res.redirect(303, ADMIN_PATH);
  });

  router.post('/admin/withdrawals/:id/:decision', form, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE) || !(await signedIn(req, res))) return;
    const params = idParam.safeParse(req.params);
    const body = rejectForm.safeParse(req.body ?? {});
    if (!params.success || !body.success) {
      sendPage(res, 400, adminMessagePage('Bad decision', 'That decision form is malformed.'));
      return;
    }
    const { id, decision } = params.data;
    try {
      await deps.decideWithdrawal({
        id,
        decision:
          decision === 'approve'
            ? { decision }
            : { decision, ...(body.data.reason ? { reason: body.data.reason } : {}) },
      });
      res.redirect(303, `${ADMIN_PATH}#pending-withdrawals`);
    } catch (error) {
      if (error instanceof Conflict || error instanceof NotFound) {
        sendPage(res, error instanceof Conflict ? 409 : 404, adminMessagePage('Not decided', error.message));
        return;
      }
      throw error;
    }
  });

  router.post('/admin/package-requests/:id/answer', form, async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE) || !(await signedIn(req, res))) return;
    const id = uuidOf('a package request id').safeParse(req.params.id);
    const body = answerForm.safeParse(req.body ?? {});
    const priceCents = body.success ? parseMoney(body.data.price, body.data.currency) : null;
    if (!id.success || !body.success || priceCents === null || priceCents < 1) {
      const why =
        'Give the package a name, a whole number of credits, a currency code and a price such as 700.00.';
      sendPage(res, 400, adminMessagePage('Package not created', why));
      return;
    }
    const { name, credits, currency } = body.data;
    try {
      await deps.createCustomPackage({
        input: { name, credits, priceCents, currency, visibleTo: [], requestId: id.data },
        key: `admin-page:answer:${id.data}`,
        creditsPageUrl: `${ownOrigin(req)}/usercredits`,
      });
      res.redirect(303, `${ADMIN_PATH}#custom-packages`);
    } catch (error) {
      if (!(error instanceof DomainError) || error instanceof IdempotencyConflict) throw error;
      sendPage(res, statusOf(error), adminMessagePage('Package not created', error.message));
    }
  });

  router.post('/admin/packages/:id/archive', async (req, res) => {
    if (refuseCrossSite(req, res, NOT_HERE) || !(await signedIn(req, res))) return;
    try {
      await deps.archiveCustomPackage(String(req.params.id));
      res.redirect(303, `${ADMIN_PATH}#custom-packages`);
    } catch (error) {
      if (!(error instanceof NotFound)) throw error;
      sendPage(res, 404, adminMessagePage('Not archived', error.message));
    }
  });

  /** Decisions need an open operator session; without one, the sign-in form (401). */
  async function signedIn(req: Request, res: Response): Promise<boolean> {
    if (await operatorSignedIn(deps.sql, req)) return true;
    sendPage(res, 401, adminSignInPage({ error: 'Your operator session has ended. Sign in again.' }));
    return false;
  }

  return router;
}
