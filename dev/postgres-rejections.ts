import { isDatabaseUnavailable } from '../db/pool';

/**
 * `npm start` runs the API, the worker and Postgres's supervisor in one process. When its
 * Postgres dies, postgres.js 3.4.9 can reject a promise that nothing awaits with the connection's
 * error (seen as an unhandled `write CONNECTION_CLOSED` while test/e2e/npm-start.test.ts killed
 * Postgres over and over, about once in eight runs), and Node then ends the process: the whole
 * dev stack, the supervisor that was restarting Postgres included. Such a rejection says only
 * that the database went away, which the pools recover from by themselves, so it is logged and
 * the stack carries on. Any other unhandled rejection still ends the process, as Node's default
 * does. The production entry points keep Node's default: their supervisor restarts them.
 */
export function surviveUnawaitedPostgresOutages(warn: (message: string, error: unknown) => void): void {
  process.on('unhandledRejection', (reason) => {
    if (!isDatabaseUnavailable(reason)) throw reason;
    warn('a database call nobody awaited failed because Postgres went away; the pools reconnect', reason);
  });
}
