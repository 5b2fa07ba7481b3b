import { freePort } from '../dev/ports';
import type { ChaosInfra } from './infra';
import { ManagedProcess } from './processes';

/** The production processes of one run: `apis` API processes and `workers` workers, all on one stack. */
export interface Fleet {
  apis: ManagedProcess[];
  workers: ManagedProcess[];
  /** Each API process's base URL, fixed across restarts (a restarted process takes its port again). */
  apiUrls: string[];
  adminKey: string;
  all(): ManagedProcess[];
}

/** A paused project re-checks its balance this often, so a lost top-up signal costs seconds, not 30. */
const RECHECK_SECONDS = '5';
/** Simulated task length: long enough that kills and cancels land mid-task, short enough to finish. */
const TASK_MS = '200';
/**
 * Earned credits (creator shares, referral rewards) become withdrawable this long after they were
 * earned: seconds, not the product's 14 days, so withdrawals of earnings happen within the run.
 */
export const CLEARING_SECONDS = 2;

export async function createFleet(
  infra: ChaosInfra,
  counts: { apis: number; workers: number },
  log: (line: string) => void,
  onCrash: (name: string, detail: string) => void,
): Promise<Fleet> {
  const adminKey = `chaos-admin-${Math.random().toString(36).slice(2)}-${Date.now()}`;
  const common = {
    DATABASE_URL: infra.databaseUrl,
    TEMPORAL_ADDRESS: infra.temporalAddress,
    STRIPE_SECRET_KEY: infra.stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: infra.stripe.webhookSecret,
    STRIPE_API_BASE: infra.stripe.apiBase,
    ADMIN_API_KEY: adminKey,
    PROJECT_RECHECK_SECONDS: RECHECK_SECONDS,
    EXECUTOR_TASK_MS: TASK_MS,
    EARNINGS_CLEARING_SECONDS: String(CLEARING_SECONDS),
  };
  const apiUrls: string[] = [];
  const apis: ManagedProcess[] = [];
  for (let i = 0; i < counts.apis; i++) {
    const port = await freePort(0);
    apiUrls.push(`http://127.0.0.1:${port}`);
    const spec = {
      name: `api-${i + 1}`,
      script: 'dist/api/main.js',
      env: { ...common, PORT: String(port), HOST: '127.0.0.1' },
      readyPattern: /API listening on/,
      readyTimeoutMs: 60_000,
    };
    apis.push(new ManagedProcess(spec, log, onCrash));
  }
  const workers = Array.from({ length: counts.workers }, (_, i) => {
    const spec = {
      name: `worker-${i + 1}`,
      script: 'dist/worker/main.js',
      env: common,
      readyPattern: /worker polling task queue/,
      // The worker bundles the workflow code with webpack at start: slow on a busy machine.
      readyTimeoutMs: 180_000,
    };
    return new ManagedProcess(spec, log, onCrash);
  });
  return { apis, workers, apiUrls, adminKey, all: () => [...apis, ...workers] };
}
