import type { Ledger } from '../db/ledger';
import { createLedgerActivities } from './ledger';
import { createProjectActivities, type ProjectActivityDeps } from './projects';
import { createPurchaseActivities, type PurchaseActivityDeps } from './purchases';

export type ActivityDeps = PurchaseActivityDeps & ProjectActivityDeps & { ledger: Ledger };

/** Every activity, built from its dependencies (the worker builds those). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createLedgerActivities(deps),
    ...createPurchaseActivities(deps),
    ...createProjectActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
