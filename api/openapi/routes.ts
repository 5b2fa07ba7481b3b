/**
 * Every route the app serves, described for the OpenAPI document. The request schemas are the
 * routes' own (imported, never copied), so the document cannot drift from what is validated;
 * test/api/openapi.test.ts fails when a route is missing here or listed here but not served.
 */
import { z } from 'zod';
import * as account from '../routes/account';
import * as admin from '../routes/admin';
import * as adminPackages from '../routes/admin-packages';
import * as adminPage from '../routes/admin-page';
import * as adminRefunds from '../routes/admin-refunds';
import * as adminWithdrawals from '../routes/admin-withdrawals';
import * as agents from '../routes/agents';
import * as creditsPage from '../routes/credits-page';
import * as executorCallbacks from '../routes/executor-callbacks';
import * as packageRequests from '../routes/package-requests';
import * as projects from '../routes/projects';
import * as purchases from '../routes/purchases';
import * as rateCards from '../routes/rate-cards';
import * as referrals from '../routes/referrals';
import * as settings from '../routes/settings';
import * as signupPage from '../routes/signup-page';
import * as usageReversals from '../routes/usage-reversals';
import * as users from '../routes/users';
import * as withdrawals from '../routes/withdrawals';
import {
  dateRangeQuery,
  projectBody,
  projectBudgetBody,
  projectEstimateBody,
  usageBody,
  usageEstimateBody,
  uuidOf,
} from '../schemas';
import * as c from './components';
import type { ResponseDoc, RouteDoc } from './types';

const json = (schema: z.ZodType, description: string, headers?: Record<string, string>): ResponseDoc => ({
  kind: 'json',
  description,
  schema,
  ...(headers ? { headers } : {}),
});
const error = (description: string, headers?: Record<string, string>) =>
  json(c.ErrorBody, description, headers);
const html = (description: string): ResponseDoc => ({ kind: 'html', description });
const redirect = (description: string): ResponseDoc => ({ kind: 'redirect', description });

const REPLAYED = 'Idempotent-Replayed';
/** 201 for the first request, 200 with Idempotent-Replayed for a retry with the same key. */
function created(schema: z.ZodType, what: string): Record<number, ResponseDoc> {
  return {
    201: json(schema, what),
    200: json(schema, `a retry with the same key: the first answer, nothing moved (${REPLAYED}: true)`, {
      [REPLAYED]: 'true on a replay',
    }),
  };
}

const eventsStream: ResponseDoc = {
  kind: 'text',
  contentType: 'text/event-stream',
  description: 'one `progress` event (a Project as JSON) per change, until the project ends',
};

/** The auto top-up setting and its state, once the user saved one (app/auto-top-up.ts). */
const autoTopUp = z.looseObject({
  enabled: z.boolean(),
  belowCredits: z.number().int(),
  packageId: z.string(),
  monthlyLimitCents: z.number().int(),
  state: z.enum(['active', 'suspended']),
  failuresInARow: z.number().int(),
  monthSpendCents: z.number().int(),
  currency: z.string().nullable(),
  inFlight: z.boolean(),
  savedCard: z.looseObject({ brand: z.string(), last4: z.string() }).nullable(),
  recentPurchases: z.array(z.record(z.string(), z.unknown())),
});
const userSettings = z.looseObject({
  lowBalanceThreshold: z.number().int().nullable(),
  autoTopUp: autoTopUp.optional().describe('present once the user saved an auto top-up'),
});
const grantAnswer = z.looseObject({
  userId: z.string(),
  credits: z.number().int(),
  available: z.number().int(),
});
const signedUp = z.looseObject({
  id: z.string(),
  email: z.string(),
  apiKey: z.string().describe('shown once: keep it'),
  referralCode: z.string(),
});
const cancelled = z.looseObject({
  id: z.string(),
  status: z.string(),
  cancelRequested: z.literal(true),
});
const webhookAnswer = z.looseObject({
  received: z.literal(true),
  duplicate: z.boolean(),
  handled: z.string().describe('what was done: signalled, ignored: …, credits reversed, …'),
});
const payoutAccountState = z.looseObject({ accountId: z.string(), payoutsEnabled: z.boolean() });
/** The page routes' path parameters, as Express names them (admin-page.ts checks them itself). */
const packageIdParam = z.object({ id: z.string() });
const requestIdParam = z.object({ id: uuidOf('a package request id') });

/**
 * The agent runtime's reports on a task attempt (README "Agent runtime"): the same path
 * parameter, credential and refusals for each; 409 once the attempt has ended.
 */
function executorCallbackRoutes(): RouteDoc[] {
  const closed = error(
    'attempt_closed: the attempt has ended (already reported, timed out after missed heartbeats, or cancelled); stop working on it',
  );
  const route = (
    name: string,
    summary: string,
    body: z.ZodType,
    answer: ResponseDoc,
    description: string,
  ): RouteDoc => ({
    method: 'post',
    path: `/v1/executor/tasks/:callbackId/${name}`,
    summary,
    description,
    tags: ['executor'],
    auth: 'executor',
    params: executorCallbacks.callbackParams,
    body,
    responses: {
      200: answer,
      409: closed,
      415: error('unsupported_media_type: the body is not JSON (Content-Type: application/json, UTF-8)'),
    },
  });
  return [
    route(
      'heartbeat',
      'An agent runtime’s heartbeat on a task it runs',
      executorCallbacks.heartbeatBody,
      json(
        z.looseObject({
          cancelRequested: z
            .boolean()
            .describe('true: the project was cancelled and the cancellation is recorded; stop working'),
        }),
        'recorded',
      ),
      'Send one well inside `heartbeatTimeoutSeconds` of the task; an attempt without one for that long is abandoned and the task re-sent with a new callback. `checkpoint` comes back to the next attempt as `lastHeartbeat`.',
    ),
    route(
      'complete',
      'An agent runtime’s result of a task',
      executorCallbacks.completeBody,
      json(
        z.looseObject({ status: z.literal('completed') }),
        'the result is taken; the task is settled once',
      ),
      'The task is settled with `usedCredits`, at most its `estimate` (what was reserved). Temporal takes one result per attempt: reporting again is a 409.',
    ),
    route(
      'fail',
      'An agent runtime’s failure of a task',
      executorCallbacks.failBody,
      json(z.looseObject({ status: z.literal('failed'), retryable: z.boolean() }), 'the failure is taken'),
      'By default the task fails for good: its reservation is released and the project fails with `message`. `retryable: true` ends only this attempt: the task is sent again while attempts remain.',
    ),
  ];
}

const USER = ['user'];
const OPERATOR = ['operator'];
const PAGES = ['pages'];

export const ROUTES: RouteDoc[] = [
  // ---------------------------------------------------------------- service
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: Postgres and Temporal both answer',
    tags: ['service'],
    auth: 'none',
    responses: {
      200: json(c.Health, 'both dependencies answer'),
      503: json(c.Health, 'a dependency is down (Retry-After)', { 'Retry-After': 'seconds' }),
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tags: ['service'],
    auth: 'metrics',
    responses: {
      200: { kind: 'text', contentType: 'text/plain', description: 'Prometheus text exposition format' },
    },
  },
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    tags: ['service'],
    auth: 'none',
    responses: {
      200: json(z.record(z.string(), z.unknown()), 'the OpenAPI 3.1 document of every route'),
    },
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'The API reference page (served without any CDN)',
    tags: ['service'],
    auth: 'none',
    responses: { 200: html('the reference page, reading /openapi.json') },
  },
  {
    method: 'get',
    path: '/docs/assets/:file',
    summary: 'The reference page’s scripts and stylesheet (from the swagger-ui-dist package)',
    tags: ['service'],
    auth: 'none',
    params: z.object({ file: z.string() }),
    responses: {
      200: { kind: 'text', contentType: 'application/javascript', description: 'a script or stylesheet' },
      404: error('not one of the page’s assets'),
    },
  },
  // ---------------------------------------------------------------- users
  {
    method: 'post',
    path: '/v1/users',
    summary: 'Sign up',
    description: 'With a referralCode the new user is referred (an unknown code is a 400).',
    tags: USER,
    auth: 'none',
    body: users.signUp,
    responses: {
      201: json(signedUp, 'the account and its API key'),
      409: error('the email is registered'),
      429: error('too many sign-ups for registered emails from this address', { 'Retry-After': 'seconds' }),
    },
  },
  {
    method: 'get',
    path: '/v1/balance',
    summary: 'Balance',
    tags: USER,
    auth: 'user',
    responses: { 200: json(c.Balance, 'available = posted − held, in credits, in all and per bucket') },
  },
  {
    method: 'get',
    path: '/v1/transactions',
    summary: 'Ledger entries, newest first, cursor paginated',
    tags: USER,
    auth: 'user',
    query: account.transactionsQuery,
    responses: { 200: json(c.TransferPage, 'a page of transfers') },
  },
  {
    method: 'get',
    path: '/v1/packages',
    summary: 'Packages the caller can buy',
    description: 'Anonymous callers see the catalog; a user also sees custom packages offered to them.',
    tags: USER,
    auth: 'optionalUser',
    responses: { 200: json(c.list(c.Package), 'the packages') },
  },
  {
    method: 'get',
    path: '/v1/settings',
    summary: 'The user’s settings',
    tags: USER,
    auth: 'user',
    responses: { 200: json(userSettings, 'the settings') },
  },
  {
    method: 'put',
    path: '/v1/settings',
    summary: 'Change the user’s settings',
    tags: USER,
    auth: 'user',
    body: settings.settingsBody,
    responses: { 200: json(userSettings, 'the settings as saved') },
  },
  {
    method: 'post',
    path: '/v1/billing-portal',
    summary: 'Open a Stripe Billing Portal session (payments and receipts)',
    tags: ['purchases'],
    auth: 'user',
    responses: {
      200: json(z.looseObject({ url: z.string() }), 'the portal session’s URL'),
      409: error('no Stripe customer yet (before the first purchase)'),
    },
  },
  {
    method: 'get',
    path: '/v1/notifications',
    summary: 'Messages sent to the user (receipts, low-balance notices)',
    tags: USER,
    auth: 'user',
    query: settings.notificationsQuery,
    responses: { 200: json(c.list(c.Mail), 'newest first') },
  },
  {
    method: 'get',
    path: '/v1/referrals',
    summary: 'The user’s referral code, link, referred sign-ups and rewards',
    tags: USER,
    auth: 'user',
    query: referrals.referralsQuery,
    responses: { 200: json(c.Referrals, 'the summary') },
  },
  // ---------------------------------------------------------------- usage
  {
    method: 'post',
    path: '/v1/usage',
    summary: 'Charge one usage event',
    description:
      'Idempotent by `eventId`: a replay answers the original charge (200, Idempotent-Replayed); the same eventId with another body is a 409. `model` is checked against the rate card.',
    tags: ['usage'],
    auth: 'user',
    body: usageBody,
    responses: {
      201: json(c.UsageCharge, 'charged'),
      200: json(c.UsageCharge, 'a replayed eventId: the original charge', { [REPLAYED]: 'true' }),
      402: error('the balance does not cover the charge (insufficient_credits)'),
      404: error('the agent is unknown'),
      409: error('the eventId was used with another body'),
    },
  },
  {
    method: 'get',
    path: '/v1/usage/summary',
    summary: 'Consumption by feature and by UTC day',
    description: '`to` defaults to today, `from` to 30 days before; at most 366 days.',
    tags: ['usage'],
    auth: 'user',
    query: dateRangeQuery,
    responses: { 200: json(c.UsageSummary, 'the summary, net of reversals') },
  },
  {
    method: 'post',
    path: '/v1/usage/:eventId/reversal',
    summary: 'Reverse a failed action’s charge',
    description: 'One reversal per event: later requests answer the first (200, Idempotent-Replayed).',
    tags: ['usage'],
    auth: 'user',
    params: usageReversals.reversalParams,
    body: usageReversals.reversalBody,
    idempotencyKey: true,
    responses: {
      201: json(c.UsageReversal, 'reversed'),
      200: json(c.UsageReversal, 'reversed before: the first reversal', { [REPLAYED]: 'true' }),
      404: error('no such event of the caller'),
      409: error('the reversal window has passed'),
    },
  },
  {
    method: 'post',
    path: '/v1/estimates',
    summary: 'Price work before starting it',
    description:
      'A usage body (has `feature`, no eventId) or a project body (`tasks` or `prompt`, optional `maxCredits`). Moves nothing.',
    tags: ['usage'],
    auth: 'user',
    body: z.union([usageEstimateBody, projectEstimateBody]),
    responses: { 200: json(c.Estimate, 'the price') },
  },
  {
    method: 'get',
    path: '/v1/rate-card',
    summary: 'The current rate card',
    tags: ['usage'],
    auth: 'none',
    responses: { 200: json(c.RateCard, 'the latest version') },
  },
  {
    method: 'get',
    path: '/v1/rate-cards/:version',
    summary: 'One version of the rate card',
    tags: ['usage'],
    auth: 'none',
    params: rateCards.versionParam,
    responses: { 200: json(c.RateCard, 'that version'), 404: error('no such version') },
  },
  // ---------------------------------------------------------------- purchases
  {
    method: 'post',
    path: '/v1/purchases',
    summary: 'Start a checkout',
    tags: ['purchases'],
    auth: 'user',
    body: purchases.purchaseBody,
    idempotencyKey: true,
    responses: {
      ...created(c.Purchase, 'the purchase, with its Stripe Checkout URL'),
      404: error('no such package for this user'),
      409: error('the package is archived, expired or sold out; or the key was used for another body'),
    },
  },
  {
    method: 'get',
    path: '/v1/purchases',
    summary: 'Purchase history',
    tags: ['purchases'],
    auth: 'user',
    query: purchases.listQuery,
    responses: { 200: json(c.list(c.Purchase), 'newest first') },
  },
  {
    method: 'get',
    path: '/v1/purchases/:id',
    summary: 'One purchase, with its refunds and disputes',
    tags: ['purchases'],
    auth: 'user',
    params: purchases.idParam,
    responses: { 200: json(c.PurchaseDetail, 'the purchase'), 404: error('no such purchase of the caller') },
  },
  {
    method: 'get',
    path: '/v1/receipts',
    summary: 'Receipts emailed to the user',
    tags: ['purchases'],
    auth: 'user',
    query: purchases.listQuery,
    responses: { 200: json(c.list(c.Mail), 'newest first') },
  },
  {
    method: 'post',
    path: '/v1/package-requests',
    summary: 'Contact sales: ask for a custom package',
    tags: ['purchases'],
    auth: 'user',
    body: packageRequests.packageRequestBody,
    idempotencyKey: true,
    responses: {
      ...created(c.PackageRequest, 'the request'),
      409: error('too many open requests, or the key was used for another body'),
    },
  },
  {
    method: 'get',
    path: '/v1/package-requests',
    summary: 'The user’s package requests',
    tags: ['purchases'],
    auth: 'user',
    query: packageRequests.listQuery,
    responses: { 200: json(c.list(c.PackageRequest), 'newest first') },
  },
  {
    method: 'post',
    path: '/v1/webhooks/stripe',
    summary: 'Stripe events',
    description:
      'The signature is checked on the raw body; each event id is stored once, redeliveries change nothing.',
    tags: ['purchases'],
    auth: 'stripe',
    body: z.looseObject({ id: z.string(), type: z.string() }).describe('a Stripe event'),
    responses: {
      200: json(webhookAnswer, 'stored (and routed)'),
      400: error('Stripe-Signature missing or not matching the body, or the body is not a Stripe event'),
    },
  },
  // ---------------------------------------------------------------- projects
  {
    method: 'post',
    path: '/v1/projects',
    summary: 'Start a MultiTask project',
    description: 'With only a prompt, the planning step makes the tasks.',
    tags: ['projects'],
    auth: 'user',
    body: projectBody,
    idempotencyKey: true,
    responses: {
      ...created(c.StartedProject, 'the project, started'),
      402: error('the balance does not cover the first step'),
      404: error('a task names an unknown agent'),
      409: error('the key was used for another body'),
    },
  },
  {
    method: 'get',
    path: '/v1/projects',
    summary: 'The user’s projects',
    tags: ['projects'],
    auth: 'user',
    query: projects.listQuery,
    responses: { 200: json(c.list(c.Project), 'newest first') },
  },
  {
    method: 'get',
    path: '/v1/projects/:id',
    summary: 'A project’s progress and tasks',
    tags: ['projects'],
    auth: 'user',
    params: projects.idParam,
    responses: { 200: json(c.ProjectDetail, 'the project'), 404: error('no such project of the caller') },
  },
  {
    method: 'post',
    path: '/v1/projects/:id/cancel',
    summary: 'Cancel a project',
    tags: ['projects'],
    auth: 'user',
    params: projects.idParam,
    responses: {
      202: json(cancelled, 'cancellation requested'),
      404: error('no such project of the caller'),
      409: error('the project has ended'),
    },
  },
  {
    method: 'post',
    path: '/v1/projects/:id/budget',
    summary: 'Raise or lower a project’s budget',
    tags: ['projects'],
    auth: 'user',
    params: projects.idParam,
    body: projectBudgetBody,
    responses: {
      200: json(c.Project, 'the project once it has acted on the change'),
      404: error('no such project of the caller'),
      409: error('the project has ended'),
    },
  },
  {
    method: 'get',
    path: '/v1/projects/:id/events',
    summary: 'A project’s progress as Server-Sent Events',
    description:
      'A `progress` event (the project’s view) at once, then one per change; the stream ends after the project does. At most 20 open streams per user.',
    tags: ['projects'],
    auth: 'user',
    params: projects.idParam,
    responses: {
      200: eventsStream,
      404: error('no such project of the caller'),
      429: error('the user has as many of these streams open as allowed', { 'Retry-After': 'seconds' }),
      503: error('this server holds all the streams it can, or Postgres is down', {
        'Retry-After': 'seconds',
      }),
    },
  },
  // ---------------------------------------------------------------- agent runtime callbacks
  ...executorCallbackRoutes(),
  // ---------------------------------------------------------------- agents and earnings
  {
    method: 'post',
    path: '/v1/agents',
    summary: 'Publish an agent',
    tags: ['agents'],
    auth: 'user',
    body: agents.agentBody,
    idempotencyKey: true,
    responses: { ...created(c.Agent, 'the agent'), 409: error('the key was used for another body') },
  },
  {
    method: 'get',
    path: '/v1/agents',
    summary: 'Published agents, cursor paginated',
    tags: ['agents'],
    auth: 'user',
    query: agents.listQuery,
    responses: {
      200: json(z.looseObject({ data: z.array(c.Agent), nextCursor: z.string().nullable() }), 'a page'),
    },
  },
  {
    method: 'get',
    path: '/v1/agents/:id',
    summary: 'One agent',
    tags: ['agents'],
    auth: 'user',
    params: agents.idParam,
    responses: { 200: json(c.Agent, 'the agent'), 404: error('no such agent') },
  },
  {
    method: 'post',
    path: '/v1/agents/:id/ratings',
    summary: 'Rate an agent you were charged for',
    tags: ['agents'],
    auth: 'user',
    params: agents.idParam,
    body: agents.ratingBody,
    responses: {
      201: json(c.AgentRating, 'the user’s first rating of the agent'),
      200: json(c.AgentRating, 'replaces the user’s earlier rating'),
      403: error('the user was never charged for this agent, or it is their own'),
      404: error('no such agent'),
    },
  },
  {
    method: 'get',
    path: '/v1/earnings',
    summary: 'A creator’s earned credits, by agent and by UTC day',
    tags: ['agents'],
    auth: 'user',
    query: dateRangeQuery,
    responses: { 200: json(c.Earnings, 'the earnings') },
  },
  {
    method: 'post',
    path: '/v1/payout-account',
    summary: 'Open (or resume) the Stripe Connect account withdrawals are paid to',
    tags: ['agents'],
    auth: 'user',
    body: z.object({}).strict(),
    responses: { 200: json(c.PayoutAccount, 'the account and a fresh onboarding link') },
  },
  {
    method: 'get',
    path: '/v1/payout-account',
    summary: 'The user’s payout account',
    tags: ['agents'],
    auth: 'user',
    responses: { 200: json(payoutAccountState, 'the account'), 404: error('no payout account yet') },
  },
  {
    method: 'post',
    path: '/v1/withdrawals',
    summary: 'Cash out earned credits (held until an operator approves)',
    tags: ['agents'],
    auth: 'user',
    body: withdrawals.withdrawalBody,
    idempotencyKey: true,
    responses: {
      ...created(c.Withdrawal, 'the withdrawal, pending approval'),
      402: error('not that many withdrawable credits (insufficient_withdrawable)'),
      409: error('no payout account with payouts enabled, or the key was used for another body'),
    },
  },
  {
    method: 'get',
    path: '/v1/withdrawals',
    summary: 'The user’s withdrawals',
    tags: ['agents'],
    auth: 'user',
    query: withdrawals.listQuery,
    responses: { 200: json(c.page(c.Withdrawal), 'newest first, cursor paginated') },
  },
  {
    method: 'get',
    path: '/v1/withdrawals/:id',
    summary: 'One withdrawal',
    tags: ['agents'],
    auth: 'user',
    params: withdrawals.idParam,
    responses: { 200: json(c.Withdrawal, 'the withdrawal'), 404: error('no such withdrawal of the caller') },
  },
  // ---------------------------------------------------------------- operator
  {
    method: 'post',
    path: '/v1/admin/grants',
    summary: 'Grant credits to a user',
    tags: OPERATOR,
    auth: 'operator',
    body: admin.grant,
    idempotencyKey: true,
    responses: {
      ...created(grantAnswer, 'granted'),
      404: error('no such user'),
      409: error('the key was used for another grant'),
    },
  },
  {
    method: 'post',
    path: '/v1/admin/rate-cards',
    summary: 'Publish a new rate card version',
    tags: OPERATOR,
    auth: 'operator',
    body: rateCards.publishBody,
    responses: { 201: json(c.RateCard, 'the published version') },
  },
  {
    method: 'post',
    path: '/v1/admin/packages',
    summary: 'Create a custom (enterprise) package for named users',
    tags: OPERATOR,
    auth: 'operator',
    body: adminPackages.packageBody,
    idempotencyKey: true,
    responses: {
      ...created(c.CreatedPackage, 'the package'),
      404: error('no such package request'),
      409: error('the request is answered, or the key was used for another body'),
    },
  },
  {
    method: 'get',
    path: '/v1/admin/packages',
    summary: 'Every package with its status and purchases',
    tags: OPERATOR,
    auth: 'operator',
    query: adminPackages.listQuery,
    responses: { 200: json(c.list(c.AdminPackage), 'the packages') },
  },
  {
    method: 'delete',
    path: '/v1/admin/packages/:id',
    summary: 'Archive a package (a second DELETE answers the same)',
    tags: OPERATOR,
    auth: 'operator',
    params: adminPackages.idParam,
    responses: { 200: json(c.AdminPackage, 'the archived package'), 404: error('no such package') },
  },
  {
    method: 'get',
    path: '/v1/admin/package-requests',
    summary: 'Users’ package requests',
    tags: OPERATOR,
    auth: 'operator',
    query: packageRequests.adminListQuery,
    responses: { 200: json(c.list(c.OperatorPackageRequest), 'newest first') },
  },
  {
    method: 'post',
    path: '/v1/admin/refunds',
    summary: 'Refund a purchase’s unused credits through Stripe',
    tags: OPERATOR,
    auth: 'operator',
    body: adminRefunds.refundBody,
    idempotencyKey: true,
    responses: {
      ...created(c.OperatorRefund, 'the refund (Stripe finishes it asynchronously)'),
      404: error('no such purchase'),
      409: error('nothing refundable, a refund in flight, or the key was used for another body'),
    },
  },
  {
    method: 'get',
    path: '/v1/admin/refunds',
    summary: 'Operator refunds',
    tags: OPERATOR,
    auth: 'operator',
    query: adminRefunds.listQuery,
    responses: { 200: json(c.list(c.OperatorRefund), 'newest first') },
  },
  {
    method: 'get',
    path: '/v1/admin/refunds/:id',
    summary: 'One operator refund',
    tags: OPERATOR,
    auth: 'operator',
    params: adminRefunds.idParam,
    responses: { 200: json(c.OperatorRefund, 'the refund'), 404: error('no such refund') },
  },
  {
    method: 'get',
    path: '/v1/admin/disputes',
    summary: 'Chargebacks',
    tags: OPERATOR,
    auth: 'operator',
    query: adminRefunds.disputesQuery,
    responses: { 200: json(c.list(c.OperatorDispute), 'newest first') },
  },
  {
    method: 'get',
    path: '/v1/admin/withdrawals',
    summary: 'Withdrawals waiting for (or past) a decision',
    tags: OPERATOR,
    auth: 'operator',
    query: adminWithdrawals.listQuery,
    responses: {
      200: json(c.page(c.OperatorWithdrawal), 'oldest first (the queue to decide), cursor paginated'),
    },
  },
  {
    method: 'post',
    path: '/v1/admin/withdrawals/:id/approve',
    summary: 'Approve a withdrawal (pays it out)',
    tags: OPERATOR,
    auth: 'operator',
    params: adminWithdrawals.idParam,
    body: z.object({}).strict(),
    responses: {
      200: json(c.WithdrawalDecision, 'decided'),
      404: error('no such withdrawal'),
      409: error('already decided, or expired'),
    },
  },
  {
    method: 'post',
    path: '/v1/admin/withdrawals/:id/reject',
    summary: 'Reject a withdrawal (releases its credits)',
    tags: OPERATOR,
    auth: 'operator',
    params: adminWithdrawals.idParam,
    body: adminWithdrawals.rejectBody,
    responses: {
      200: json(c.WithdrawalDecision, 'decided'),
      404: error('no such withdrawal'),
      409: error('already decided, or expired'),
    },
  },
  // ---------------------------------------------------------------- pages
  {
    method: 'get',
    path: '/usercredits',
    summary: 'The credits page',
    description:
      'Signed in (session cookie or API key): balance, packages, usage, earnings; else the sign-in form.',
    tags: PAGES,
    auth: 'optionalUser',
    query: creditsPage.pageQuery,
    responses: { 200: html('the credits page, or its sign-in form'), 400: html('a malformed link') },
  },
  {
    method: 'post',
    path: '/usercredits/session',
    summary: 'Sign in to the credits page with an API key',
    tags: PAGES,
    auth: 'none',
    form: creditsPage.signInForm,
    responses: {
      303: redirect('signed in (Set-Cookie): to the credits page or returnTo'),
      400: html('no key entered'),
      401: html('unknown key'),
      403: html('sent from another site'),
    },
  },
  {
    method: 'post',
    path: '/usercredits/session/delete',
    summary: 'Sign out of the credits page',
    tags: PAGES,
    auth: 'page',
    responses: { 303: redirect('signed out: to the credits page'), 403: html('sent from another site') },
  },
  {
    method: 'post',
    path: '/usercredits/buy',
    summary: 'Buy a package from the credits page',
    tags: PAGES,
    auth: 'page',
    form: creditsPage.buyForm,
    responses: {
      303: redirect('to Stripe Checkout'),
      400: html('no package chosen'),
      401: html('not signed in'),
      403: html('sent from another site'),
      404: html('no such package for this user'),
      409: html('the package can no longer be bought'),
    },
  },
  {
    method: 'post',
    path: '/usercredits/package-requests',
    summary: 'Contact sales from the credits page',
    tags: PAGES,
    auth: 'page',
    form: creditsPage.salesForm,
    responses: {
      303: redirect('sent: back to the credits page'),
      400: html('a malformed request'),
      401: html('not signed in'),
      403: html('sent from another site'),
      409: html('not sent'),
    },
  },
  {
    method: 'post',
    path: '/usercredits/billing-portal',
    summary: 'Open the Stripe customer portal (payments and receipts) from the credits page',
    tags: PAGES,
    auth: 'page',
    responses: {
      303: redirect('to Stripe’s customer portal'),
      401: html('not signed in'),
      403: html('sent from another site'),
      409: html('no purchase yet, so no customer portal'),
    },
  },
  {
    method: 'post',
    path: '/usercredits/payout-account',
    summary: 'Set up payouts from the credits page',
    tags: PAGES,
    auth: 'page',
    responses: {
      303: redirect('to Stripe’s onboarding'),
      401: html('not signed in'),
      403: html('sent from another site'),
    },
  },
  {
    method: 'post',
    path: '/usercredits/withdraw',
    summary: 'Withdraw earned credits from the credits page',
    tags: PAGES,
    auth: 'page',
    form: creditsPage.withdrawForm,
    responses: {
      303: redirect('requested: back to the credits page'),
      400: html('no amount entered'),
      401: html('not signed in'),
      402: html('not that many withdrawable credits'),
      403: html('sent from another site'),
      409: html('no payout account with payouts enabled'),
    },
  },
  {
    method: 'get',
    path: '/usercredits/projects/events',
    summary: 'The credits page’s live project progress, as Server-Sent Events',
    description:
      'The signed-in user’s latest projects: each one first, then each change, as `progress` events (what a row of the page shows). At most 4 open streams per user.',
    tags: [...PAGES, 'projects'],
    auth: 'user',
    responses: {
      200: {
        kind: 'text',
        contentType: 'text/event-stream',
        description:
          'one `progress` event per project, then one per change; ends after 10 minutes (EventSource reconnects)',
      },
      429: error('the user has as many streams open as allowed', { 'Retry-After': 'seconds' }),
      503: error('this server holds all the streams it can, or Postgres is down', {
        'Retry-After': 'seconds',
      }),
    },
  },
  {
    method: 'get',
    path: '/signup',
    summary: 'The sign-up page',
    tags: PAGES,
    auth: 'none',
    query: signupPage.signupQuery,
    responses: { 200: html('the sign-up form (with the invitation’s code when `ref` names one)') },
  },
  {
    method: 'post',
    path: '/signup',
    summary: 'Sign up from the sign-up page',
    tags: PAGES,
    auth: 'none',
    form: signupPage.signupForm,
    responses: {
      201: html('signed up and signed in (Set-Cookie): shows the API key once'),
      400: html('a malformed email or an unknown referral code'),
      403: html('sent from another site'),
      409: html('the email is registered'),
      429: html('too many sign-ups for registered emails from this address'),
    },
  },
  {
    method: 'get',
    path: '/admin',
    summary: 'The operator page',
    tags: [...PAGES, ...OPERATOR],
    auth: 'operatorPage',
    responses: { 200: html('what waits for a decision; the sign-in form without a session') },
  },
  {
    method: 'post',
    path: '/admin/session',
    summary: 'Sign in to the operator page with the operator key',
    tags: [...PAGES, ...OPERATOR],
    auth: 'none',
    form: adminPage.signInForm,
    responses: {
      303: redirect('signed in (Set-Cookie): to the operator page'),
      400: html('no key entered'),
      401: html('not the operator key'),
      403: html('sent from another site'),
    },
  },
  {
    method: 'post',
    path: '/admin/session/delete',
    summary: 'Sign out of the operator page',
    tags: [...PAGES, ...OPERATOR],
    auth: 'operatorPage',
    responses: { 303: redirect('signed out'), 403: html('sent from another site') },
  },
  {
    method: 'post',
    path: '/admin/withdrawals/:id/:decision',
    summary: 'Approve or reject a withdrawal from the operator page',
    tags: [...PAGES, ...OPERATOR],
    auth: 'operatorPage',
    params: adminPage.idParam,
    form: adminPage.rejectForm,
    responses: {
      303: redirect('decided: back to the operator page'),
      400: html('a malformed decision'),
      401: html('no operator session'),
      403: html('sent from another site'),
      404: html('no such withdrawal'),
      409: html('already decided, or expired'),
    },
  },
  {
    method: 'post',
    path: '/admin/package-requests/:id/answer',
    summary: 'Answer a package request with a custom package',
    tags: [...PAGES, ...OPERATOR],
    auth: 'operatorPage',
    params: requestIdParam,
    form: adminPage.answerForm,
    responses: {
      303: redirect('created: back to the operator page'),
      400: html('a malformed package'),
      401: html('no operator session'),
      403: html('sent from another site'),
      404: html('no such request'),
      409: html('the request is answered'),
    },
  },
  {
    method: 'post',
    path: '/admin/packages/:id/archive',
    summary: 'Archive a package from the operator page',
    tags: [...PAGES, ...OPERATOR],
    auth: 'operatorPage',
    params: packageIdParam,
    responses: {
      303: redirect('archived: back to the operator page'),
      401: html('no operator session'),
      403: html('sent from another site'),
      404: html('no such package'),
    },
  },
];
