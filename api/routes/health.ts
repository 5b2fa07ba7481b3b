import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { Sql } from '../../db/pool';
import type { Metrics } from '../../observability/metrics';
import { RETRY_AFTER_SECONDS } from '../errors';

/** How long each dependency may take to answer the probe before it counts as down. */
const PROBE_TIMEOUT_MS = 2000;

type Probe = { state: 'ok' } | { state: 'down'; reason: string };

/** Runs `probe` with a timeout: a dependency that hangs is as down as one that refuses. */
async function check(probe: () => Promise<unknown>): Promise<Probe> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { state: 'ok' };
  } catch (error) {
    return { state: 'down', reason: (error as Error).message || 'failed' };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * GET /healthz: 200 `{ status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } }` when both
 * answer; else 503 with Retry-After, `status: 'unavailable'`, each check `ok` or `down`, and why
 * each down one is down. Both probes run at once, so the answer comes within PROBE_TIMEOUT_MS.
 */
export function healthRouter(deps: { sql: Sql; temporal: Client; metrics: Metrics }): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const [postgres, temporal] = await Promise.all([
      check(() => deps.sql`SELECT 1`),
      // Its own deadline too: the call (retries included) ends when the probe gives up.
      check(() =>
        deps.temporal.connection.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
          deps.temporal.workflowService.getSystemInfo({}),
        ),
      ),
    ]);
    const checks = { postgres: postgres.state, temporal: temporal.state };
    if (postgres.state === 'ok' && temporal.state === 'ok') {
      res.json({ status: 'ok', checks });
      return;
    }
    const reasons: Record<string, string> = {};
    if (postgres.state === 'down') reasons.postgres = postgres.reason;
    if (temporal.state === 'down') reasons.temporal = temporal.reason;
    res
      .status(503)
      .set('retry-after', String(RETRY_AFTER_SECONDS))
      .json({ status: 'unavailable', checks, reasons });
  });
  router.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return router;
}
