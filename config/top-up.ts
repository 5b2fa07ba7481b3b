import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { pausedProjectIds } from '../db/projects';
import { type TopUp, topUpSignal, workflowIds } from '../workflows/messages';

export type TopUpNotifier = (input: { userId: string; reason: TopUp['reason'] }) => Promise<number>;

/**
 * Tells the user's paused projects that their balance went up (purchase credited, grant, hold
 * released). Best effort by design: a lost signal only delays a project until its own re-check
 * timer fires. Returns how many projects were signalled.
 */
export function createTopUpNotifier(deps: { sql: Sql; ledger: Ledger; temporal: Client }): TopUpNotifier {
  return async ({ userId, reason }) => {
    const ids = await pausedProjectIds(deps.sql, userId);
    if (ids.length === 0) return 0;
    const { available } = await deps.ledger.balance(userId);
    let signalled = 0;
    for (const id of ids) {
      try {
        await deps.temporal.workflow
          .getHandle(workflowIds.project(id))
          .signal(topUpSignal, { reason, available });
        signalled++;
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
    }
    return signalled;
  };
}
