import type { Ledger } from '../db/ledger';

/** Ledger activities: thin and idempotent; the ledger module does the money work. */
export function createLedgerActivities(deps: { ledger: Ledger }) {
  return {
    async sweepExpiredHolds(): Promise<number> {
      return deps.ledger.sweepExpiredHolds();
    },
  };
}

export type LedgerActivities = ReturnType<typeof createLedgerActivities>;
