import type { Client } from '@temporalio/client';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import type { Mailer } from '../mail/mailer';
import { defaultLogger, errorLog } from '../observability/logger';
import { autoTopUpIfCrossed } from './auto-top-up';
import { type Debited, noticeIfLowBalanceCrossed } from './notices';
import { signalTopUp, type TopUpReason } from './top-ups';

export type { Debited } from './notices';

/**
 * What happens after the ledger moved a user's credits, in one place, so every path that moves
 * credits (usage, purchases, grants, project planning, task reservations and settlements) has
 * the same consequences:
 * - `credited` (purchase credited, grant, hold released or voided): the user's paused projects
 *   get a top-up signal;
 * - `debited`: the debit that crosses the user's low-balance threshold records one notice; the
 *   debit that crosses their auto top-up threshold signals their auto top-up workflow
 *   (app/auto-top-up.ts).
 *
 * Both are best effort and never throw: the money has moved already and must not be undone or
 * retried because of a message. A lost top-up signal only delays a paused project until its own
 * re-check timer; a lost notice is logged (an SMTP outage must not stall projects or charges).
 */
export interface BalanceEvents {
  /** Resolves to how many paused projects were signalled (0 when signalling failed). */
  credited(input: { userId: string; reason: TopUpReason }): Promise<number>;
  /** Resolves to true when this debit recorded a low-balance notice. */
  debited(input: Debited): Promise<boolean>;
}

export interface BalanceEventDeps {
  sql: Sql;
  ledger: Ledger;
  temporal: Client;
  mailer: Mailer;
  /** Where the auto top-up workflow is started (without one, auto top-up is not triggered). */
  taskQueue?: string | undefined;
  log?: ((message: string, error: unknown) => void) | undefined;
}

export function createBalanceEvents(deps: BalanceEventDeps): BalanceEvents {
  const log = deps.log ?? errorLog(defaultLogger());
  return {
    credited: (input) =>
      signalTopUp(deps, input).catch((error: unknown) => {
        log(`top-up signal for user ${input.userId} failed`, error);
        return 0;
      }),
    debited: async (input) => {
      const [noticed] = await Promise.all([
        noticeIfLowBalanceCrossed(deps, input).catch((error: unknown) => {
          log(`low-balance notice for ${input.debitKey} failed`, error);
          return false;
        }),
        autoTopUpIfCrossed(deps, input).catch((error: unknown) => {
          log(`auto top-up for ${input.debitKey} failed`, error);
          return false;
        }),
      ]);
      return noticed;
    },
  };
}
