import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { RateCards } from '../db/rate-cards';
import type { Mailer } from '../mail/mailer';
import { optionalUser, requireOperator, requireUser } from './auth';
import { errorHandler, notFoundRoute } from './errors';
import type { Metrics } from './metrics';
import { accountRouter } from './routes/account';
import { adminRouter } from './routes/admin';
import { estimatesRouter } from './routes/estimates';
import { healthRouter } from './routes/health';
import { rateCardsRouter } from './routes/rate-cards';
import { settingsRouter } from './routes/settings';
import { type DebitPath, usageRouter } from './routes/usage';
import { usersRouter } from './routes/users';

export interface AppDeps {
  sql: Sql;
  ledger: Ledger;
  temporal: Client;
  metrics: Metrics;
  rateCards: RateCards;
  mailer: Mailer;
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
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log ?? ((message, error) => console.error(message, error))));
  return app;
}
