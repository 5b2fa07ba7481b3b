import {
  ApplicationFailure,
  condition,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { WithdrawalLedgerActivities, WithdrawalStripeActivities } from '../activities';
import { ledgerActivity, stripeActivity } from './activity-options';
import {
  decideWithdrawalUpdate,
  WITHDRAWAL_DECISION_REFUSED,
  WITHDRAWAL_REASON_MAX,
  type WithdrawalDecision,
  type WithdrawalInput,
  type WithdrawalOutcome,
  type WithdrawalStatus,
} from './messages';
import { WithdrawalStatusKey } from './search-attributes';

const ledger = proxyActivities<WithdrawalLedgerActivities>(ledgerActivity);
/** Stripe refusals come back as an outcome, so the preset's retries cover only faults. */
const payouts = proxyActivities<WithdrawalStripeActivities>(stripeActivity);

function refuse(message: string): never {
  throw ApplicationFailure.create({ type: WITHDRAWAL_DECISION_REFUSED, message, nonRetryable: true });
}

/**
 * One withdrawal (DESIGN.md §11). Its credits are held when the run starts (the API takes the
 * hold, so it can answer 402 itself). The run waits for the operator's decision, an update whose
 * validator admits exactly one decision and none after the deadline; undecided by then, it
 * expires. Approved: a Stripe transfer keyed by the withdrawal, then the hold is posted (paid);
 * a transfer Stripe refuses, a rejection and an expiry all void the hold. Each status is
 * upserted as `WithdrawalStatus`, so operators list the pending ones in the Web UI.
 */
export async function withdrawalWorkflow(input: WithdrawalInput): Promise<WithdrawalOutcome> {
  const { withdrawalId } = input;
  const deadline = Date.parse(input.expiresAt);
  let status: WithdrawalStatus = 'pending_approval';
  let decision: WithdrawalDecision | null = null;

  const setStatus = (next: WithdrawalStatus) => {
    status = next;
    upsertSearchAttributes([{ key: WithdrawalStatusKey, value: next }]);
  };

  setHandler(
    decideWithdrawalUpdate,
    (decided) => {
      // Synchronous with its validator: a second decision in the same activation already sees this one.
      decision = { decision: decided.decision, ...(decided.reason ? { reason: decided.reason } : {}) };
      return { decision: decided.decision, status };
    },
    {
      // Refused decisions are not written to the history: the run never sees them.
      validator: (decided) => {
        if (decided?.decision !== 'approve' && decided?.decision !== 'reject')
          refuse('decision: must be approve or reject');
        if (
          decided.reason !== undefined &&
          (typeof decided.reason !== 'string' || decided.reason.length > WITHDRAWAL_REASON_MAX)
        )
          refuse(`reason: must be text of at most ${WITHDRAWAL_REASON_MAX} characters`);
        if (decision !== null) refuse(`withdrawal ${withdrawalId} is already decided (${decision.decision})`);
        // The deadline by the workflow's clock, so a decision racing the expiry timer is judged
        // the same way on every replay.
        if (status !== 'pending_approval' || Date.now() >= deadline)
          refuse(`withdrawal ${withdrawalId} has expired: its credits are released`);
      },
    },
  );

  setStatus('pending_approval');
  await condition(() => decision !== null, Math.max(1, deadline - Date.now()));

  const release = async (
    final: 'rejected' | 'failed' | 'expired',
    reason: string | null,
  ): Promise<WithdrawalOutcome> => {
    setStatus(final);
    await ledger.releaseWithdrawal({ withdrawalId, status: final, reason });
    return { status: final, transferId: null, reason };
  };

  // Read through a function: TypeScript narrowed `decision` to null at its declaration.
  const decided = (): WithdrawalDecision | null => decision;
  const final = decided();
  if (final === null) return release('expired', 'not decided in time');
  if (final.decision === 'reject') return release('rejected', final.reason ?? null);

  const transfer = await payouts.transferWithdrawal({ withdrawalId });
  if (!transfer.ok) return release('failed', transfer.reason);
  await ledger.payWithdrawal({ withdrawalId, transferId: transfer.transferId });
  setStatus('paid');
  return { status: 'paid', transferId: transfer.transferId, reason: null };
}
