/**
 * The application layer: one module per use case (usage, purchases, projects, project tasks,
 * grants, notices, top-ups) and the balance events every credit movement ends with. Routes
 * (api/) and activities (activities/) call these; neither holds business rules of its own.
 * `createUseCases` binds them to their dependencies once (composition/root.ts calls it).
 */
import type { Client } from '@temporalio/client';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { RateCards } from '../db/rate-cards';
import type { Mailer } from '../mail/mailer';
import { type BalanceEvents, createBalanceEvents } from './balance-events';
import { DEFAULT_EARNING_SETTINGS, type EarningSettings } from './earning-settings';
import { type Grant, grantCredits } from './grants';
import { cancelProject, type NewProject, ownProject, type ProjectSettings, startProject } from './projects';
import { ownPurchase, type PurchaseSettings, startPurchase } from './purchases';
import { createUsageCharger, type DebitPath } from './usage';

export type { BalanceEvents } from './balance-events';
export { DEFAULT_EARNING_SETTINGS, type EarningSettings } from './earning-settings';
export type { Grant } from './grants';
export { isFinished, type NewProject, type Project, type ProjectSettings } from './projects';
export type { PurchaseSettings, StartedPurchase } from './purchases';
export type { DebitPath, UsageCharge, UsageCharger, UsageEvent } from './usage';

export interface UseCaseDeps {
  sql: Sql;
  ledger: Ledger;
  rateCards: RateCards;
  mailer: Mailer;
  temporal: Client;
  /** Where workflows are started; tests give each app and worker pair its own queue. */
  taskQueue: string;
  log?: ((message: string, error: unknown) => void) | undefined;
}

export interface UseCaseSettings {
  purchases: PurchaseSettings;
  projects: ProjectSettings;
  earning: EarningSettings;
  /** The usage charge's ledger path; the one-transaction path is the benchmark's baseline. */
  debitPath?: DebitPath | undefined;
}

export const DEFAULT_SETTINGS: UseCaseSettings = {
  purchases: { checkoutExpirySeconds: 30 * 60, pollIntervalSeconds: 15 },
  projects: { recheckSeconds: 30, tasksPerRun: 100 },
  earning: DEFAULT_EARNING_SETTINGS,
};

type Rest<F> = F extends (deps: never, ...rest: infer R) => infer T ? (...rest: R) => T : never;

export interface UseCases {
  balanceEvents: BalanceEvents;
  chargeUsage: ReturnType<typeof createUsageCharger>;
  startPurchase: Rest<typeof startPurchase>;
  ownPurchase: Rest<typeof ownPurchase>;
  startProject: Rest<typeof startProject>;
  ownProject: Rest<typeof ownProject>;
  cancelProject: Rest<typeof cancelProject>;
  grantCredits: (grant: Grant) => ReturnType<typeof grantCredits>;
}

export function createUseCases(deps: UseCaseDeps, settings: UseCaseSettings = DEFAULT_SETTINGS): UseCases {
  const balanceEvents = createBalanceEvents(deps);
  const withSettings = { ...deps, ...settings, balanceEvents };
  return {
    balanceEvents,
    chargeUsage: createUsageCharger(withSettings),
    startPurchase: (request) => startPurchase(withSettings, request),
    ownPurchase: (userId, id) => ownPurchase(deps, userId, id),
    startProject: (request: { user: { id: string }; body: NewProject; key: string | undefined }) =>
      startProject(withSettings, request),
    ownProject: (userId, id) => ownProject(deps, userId, id),
    cancelProject: (userId, id) => cancelProject(deps, userId, id),
    grantCredits: (grant) => grantCredits(withSettings, grant),
  };
}
