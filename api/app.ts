import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type Stripe from 'stripe';
import type { UseCases } from '../app';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { RateCards } from '../db/rate-cards';
import { defaultLogger, errorLog, type Logger } from '../observability/logger';
import type { Metrics } from '../observability/metrics';
import { optionalUser, requireMetricsToken, requireOperator, requireUser } from './auth';
import { errorHandler, notFoundRoute } from './errors';
import { jsonBodyParser, refuseBodiesThatAreNotJson } from './json-body';
import { accountRouter } from './routes/account';
import { adminRouter } from './routes/admin';
import { adminPackagesRouter } from './routes/admin-packages';
import { adminPageRouter } from './routes/admin-page';
import { adminRefundsRouter } from './routes/admin-refunds';
import { adminWithdrawalsRouter } from './routes/admin-withdrawals';
import { agentsRouter } from './routes/agents';
import { billingPortalRouter } from './routes/billing-portal';
import { creditsPageRouter } from './routes/credits-page';
import { docsRouter } from './routes/docs';
import { earningsRouter } from './routes/earnings';
import { estimatesRouter } from './routes/estimates';
import { executorCallbacksRouter } from './routes/executor-callbacks';
import { healthRouter } from './routes/health';
import { packageRequestsRouter } from './routes/package-requests';
import { projectEventsRouter } from './routes/project-events';
import { projectsRouter } from './routes/projects';
import { purchasesRouter } from './routes/purchases';
import { rateCardsRouter } from './routes/rate-cards';
import { referralsRouter } from './routes/referrals';
import { settingsRouter } from './routes/settings';
import { signupPageRouter } from './routes/signup-page';
import { usageRouter } from './routes/usage';
import { usageReversalsRouter } from './routes/usage-reversals';
import { usersRouter } from './routes/users';
import { webhooksRouter } from './routes/webhooks';
import { withdrawalsRouter } from './routes/withdrawals';
import { registerFastPath, registerLogger } from './server';
import { usageFastPath } from './usage-fast-path';

/** What the API needs: the read side's clients and the use cases (composition/root.ts builds both). */
export interface AppDeps {
  sql: Sql;
  ledger: Ledger;
  temporal: Client;
  metrics: Metrics;
  rateCards: RateCards;
  stripe: Stripe;
  stripeWebhookSecret: string;
  /** Where the webhook's workflows are started (the use cases carry their own). */
  taskQueue: string;
  useCases: UseCases;
  adminApiKey: string | undefined;
  /** The Temporal namespace the workflows run in (the operator page links to them). */
  namespace: string;
  /** The Temporal Web UI's URL; without one the operator page shows workflow ids without links. */
  temporalUiUrl?: string | undefined;
  /**
   * Checks the agent runtime's per-task callback credentials (EXECUTOR_CALLBACK_SECRET, shared
   * with the worker); without it the executor callback routes answer 403.
   */
  executorCallbackSecret?: string | undefined;
  /** When set, /metrics answers only `Bearer <metricsToken>` (METRICS_TOKEN). */
  metricsToken?: string | undefined;
  /** Request lines and errors (observability/logger.ts); default: defaultLogger(). */
  logger?: Logger | undefined;
  /** Where unhandled errors go instead of `logger` (tests that expect them pass a no-op). */
  log?: (message: string, error: unknown) => void;
}

/** The HTTP API. Tests build it with the real stack and listen on port 0. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(deps.metrics.httpTimer());
  // Before the JSON parser: the webhook signature is checked on the raw body.
  app.use(webhooksRouter(deps));
  app.use(jsonBodyParser());
  app.use(refuseBodiesThatAreNotJson());
  const routeDeps = {
    ...deps,
    ...deps.useCases,
    requireUser: requireUser(deps.sql),
    optionalUser: optionalUser(deps.sql),
    requireOperator: requireOperator(deps.sql, deps.adminApiKey),
  };
  app.use('/metrics', requireMetricsToken(deps.metricsToken));
  app.use(healthRouter(routeDeps));
  app.use(docsRouter());
  app.use(usersRouter(routeDeps));
  app.use(accountRouter(routeDeps));
  app.use(adminRouter(routeDeps));
  app.use(usageRouter(routeDeps));
  app.use(usageReversalsRouter(routeDeps));
  app.use(earningsRouter(routeDeps));
  app.use(estimatesRouter(routeDeps));
  app.use(settingsRouter(routeDeps));
  app.use(billingPortalRouter(routeDeps));
  app.use(rateCardsRouter(routeDeps));
  app.use(purchasesRouter(routeDeps));
  app.use(creditsPageRouter(routeDeps));
  app.use(projectEventsRouter(routeDeps));
  app.use(adminPageRouter(routeDeps));
  app.use(referralsRouter(routeDeps));
  app.use(signupPageRouter(routeDeps));
  app.use(projectsRouter(routeDeps));
  app.use(executorCallbacksRouter(routeDeps));
  app.use(agentsRouter(routeDeps));
  app.use(withdrawalsRouter(routeDeps));
  app.use(adminWithdrawalsRouter(routeDeps));
  app.use(adminRefundsRouter(routeDeps));
  app.use(adminPackagesRouter(routeDeps));
  app.use(packageRequestsRouter(routeDeps));
  app.use(notFoundRoute);
  const logger = deps.logger ?? defaultLogger();
  const log = deps.log ?? errorLog(logger);
  app.use(errorHandler(log));
  registerFastPath(app, usageFastPath({ ...routeDeps, log }));
  registerLogger(app, logger);
  return app;
}
