import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { optionalUser, requireOperator, requireUser } from './auth';
import { errorHandler, notFoundRoute } from './errors';
import type { Metrics } from './metrics';
import { accountRouter } from './routes/account';
import { adminRouter } from './routes/admin';
import { healthRouter } from './routes/health';
import { usersRouter } from './routes/users';

export interface AppDeps {
  sql: Sql;
  ledger: Ledger;
  temporal: Client;
  metrics: Metrics;
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
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log ?? ((message, error) => console.error(message, error))));
  return app;
}
