import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { pausedProjectIds } from '../db/projects';
import { type TopUp, topUpSignal, workflowIds } from '../workflows/messages';

export type TopUpReason = TopUp['reason'];

export interface TopUpDeps {
  sql: Sql;
  ledger: Ledger;
  temporal: Client;
}

/**
 * Tells the user's paused projects that their balance went up (purchase credited, grant, hold
 * released). Returns how many projects were signalled. A project that ended in the meantime is
 * skipped; any other error is the caller's (app/balance-events.ts decides what a failure means).
 */
export async function signalTopUp(
  deps: TopUpDeps,
  input: { userId: string; reason: TopUpReason },
): Promise<number> {
  const ids = await pausedProjectIds(deps.sql, input.userId);
  if (ids.length === 0) return 0;
  const { available } = await deps.ledger.balance(input.userId);
  let signalled = 0;
  for (const id of ids) {
    try {
      await deps.temporal.workflow
        .getHandle(workflowIds.project(id))
        .signal(topUpSignal, { reason: input.reason, available });
      signalled++;
    } catch (error) {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
    }
  }
  return signalled;
}
