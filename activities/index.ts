import type { Ledger } from '../db/ledger';
import { createLedgerActivities } from './ledger';
import { createPurchaseActivities, type PurchaseActivityDeps } from './purchases';

export type ActivityDeps = PurchaseActivityDeps & { ledger: Ledger };

/** Every activity, built from its dependencies (the worker builds those). */
export function createActivities(deps: ActivityDeps) {
  return { ...createLedgerActivities(deps), ...createPurchaseActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
