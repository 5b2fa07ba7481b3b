import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type Stripe from 'stripe';
import type { TopUpNotifier } from '../config/top-up';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { RateCards } from '../db/rate-cards';
import type { Mailer } from '../mail/mailer';
import { TASK_QUEUE } from '../workflows/messages';
import { optionalUser, requireOperator, requireUser } from './auth';
import { errorHandler, notFoundRoute } from './errors';
import type { Metrics } from './metrics';
import { accountRouter } from './routes/account';
import { adminRouter } from './routes/admin';
import { creditsPageRouter } from './routes/credits-page';
import { estimatesRouter } from './routes/estimates';
import { healthRouter } from './routes/health';
import { type ProjectSettings, projectsRouter } from './routes/projects';
import { type PurchaseSettings, purchasesRouter } from './routes/purchases';
import { rateCardsRouter } from './routes/rate-cards';
import { settingsRouter } from './routes/settings';
import { type DebitPath, usageRouter } from './routes/usage';
import { usersRouter } from './routes/users';
import { webhooksRouter } from './routes/webhooks';
import { registerFastPath } from './server';
import { usageFastPath } from './usage-fast-path';

export interface AppDeps {
  sql: Sql;
  ledger: Ledger;
  temporal: Client;
  metrics: Metrics;
  rateCards: RateCards;
  mailer: Mailer;
  stripe: Stripe;
  stripeWebhookSecret: string;
  announceTopUp: TopUpNotifier;
  /** Where workflows are started; tests give each worker its own queue. */
  taskQueue?: string;
  purchases?: PurchaseSettings;
  projects?: ProjectSettings;
  /** The usage route's debit path; the one-transaction path exists for the benchmark's baseline. */
  debitPath?: DebitPath;
  adminApiKey: string | undefined;
  log?: (message: string, error: unknown) => void;
}

/** The HTTP API. Tests build it with the real stack and listen on port 0. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(deps.metrics.httpTimer());
  const taskQueue = deps.taskQueue ?? TASK_QUEUE;
  // Before the JSON parser: the webhook signature is checked on the raw body.
  app.use(webhooksRouter({ ...deps, taskQueue }));
  app.use(express.json({ limit: '100kb', strict: true }));
  const auth = {
    requireUser: requireUser(deps.sql),
    optionalUser: optionalUser(deps.sql),
    requireOperator: requireOperator(deps.sql, deps.adminApiKey),
  };
  app.use(healthRouter(deps));
  app.use(usersRouter(deps));
  app.use(accountRouter({ ...deps, ...auth }));
  app.use(adminRouter({ ...deps, ...auth }));
  app.use(usageRouter({ ...deps, ...auth }));
  app.use(estimatesRouter({ ...deps, ...auth }));
  app.use(settingsRouter({ ...deps, ...auth }));
  app.use(rateCardsRouter({ ...deps, ...auth }));
  const purchases = deps.purchases ?? { checkoutExpirySeconds: 30 * 60, pollIntervalSeconds: 15 };
  app.use(purchasesRouter({ ...deps, ...auth, taskQueue, purchases }));
  app.use(creditsPageRouter({ ...deps, ...auth, taskQueue, purchases }));
  app.use(
    projectsRouter({
      ...deps,
      ...auth,
      taskQueue,
      projects: deps.projects ?? { recheckSeconds: 30, tasksPerRun: 100 },
    }),
  );
  app.use(notFoundRoute);
  const log = deps.log ?? ((message: string, error: unknown) => console.error(message, error));
  app.use(errorHandler(log));
  registerFastPath(app, usageFastPath({ ...deps, log }));
  return app;
}
