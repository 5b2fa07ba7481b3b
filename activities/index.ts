import type { Ledger } from '../db/ledger';
import { createLedgerActivities } from './ledger';

export interface ActivityDeps {
  ledger: Ledger;
}

/** Every activity, built from its dependencies (the worker builds those). */
export function createActivities(deps: ActivityDeps) {
  return { ...createLedgerActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
