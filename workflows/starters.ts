/**
 * Typed workflow starts: each starter passes the workflow function itself, so the compiler
 * checks the input against the workflow's parameter (a string name checks nothing). Every
 * workflow id is business-derived (messages.ts `workflowIds`), so a start is idempotent: when a
 * run with that id exists already, its handle is returned and nothing new starts.
 *
 * Node-side only (api/, app/, worker/, tests): the worker's workflow bundle never imports it.
 */
import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandle,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import {
  autoTopUpWorkflow,
  disputeWorkflow,
  duplicateChargeWorkflow,
  holdSweeperWorkflow,
  operatorRefundWorkflow,
  projectWorkflow,
  purchaseRefundedWorkflow,
  purchaseWorkflow,
  withdrawalWorkflow,
} from './index';
import {
  type DisputeChanged,
  disputeChangedSignal,
  TASK_QUEUE,
  type ThresholdCrossed,
  thresholdCrossedSignal,
  workflowIds,
} from './messages';
import { ProjectStatusKey, UserIdKey, WithdrawalStatusKey } from './search-attributes';

/** The one argument a workflow takes (each workflow takes one input object). */
type InputOf<W extends Workflow> = Parameters<W>[0];

async function startOnce<W extends Workflow>(
  client: Client,
  workflow: W,
  options: WorkflowStartOptions<W>,
): Promise<WorkflowHandle<W>> {
  try {
    return await client.workflow.start(workflow, options);
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    return client.workflow.getHandle<W>(options.workflowId);
  }
}

/** A MultiTask project; operators find it in the Web UI by its status and user. */
export function startProject(client: Client, taskQueue: string, input: InputOf<typeof projectWorkflow>) {
  return startOnce(client, projectWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.project(input.projectId),
    typedSearchAttributes: [
      { key: ProjectStatusKey, value: 'running' },
      { key: UserIdKey, value: input.userId },
    ],
  });
}

/** One purchase's saga: checkout, payment, credit, receipt. */
export function startPurchase(client: Client, taskQueue: string, input: InputOf<typeof purchaseWorkflow>) {
  return startOnce(client, purchaseWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.purchase(input.purchaseId),
  });
}

/** Refunds a second successful charge for a credited purchase, once per payment. */
export function startDuplicateCharge(
  client: Client,
  taskQueue: string,
  input: InputOf<typeof duplicateChargeWorkflow>,
) {
  return startOnce(client, duplicateChargeWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.duplicateCharge(input.paymentIntentId),
  });
}

/**
 * The credited payment was refunded in Stripe: take the credits back, once per refunded total
 * (a later partial refund of the same payment names a larger total, hence a new run).
 */
export function startPurchaseRefunded(
  client: Client,
  taskQueue: string,
  input: InputOf<typeof purchaseRefundedWorkflow> & { refundedThroughCents: number },
) {
  return startOnce(client, purchaseRefundedWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.purchaseRefunded(input.paymentIntentId, input.refundedThroughCents),
  });
}

/**
 * One withdrawal: wait for the operator, then pay or release. Listed in the Web UI by
 * `WithdrawalStatus = "pending_approval"` from the start. A closed run's id is never reused, so a
 * retried request for a withdrawal that has ended cannot start a second payout run.
 */
export function startWithdrawal(
  client: Client,
  taskQueue: string,
  input: InputOf<typeof withdrawalWorkflow>,
) {
  return startOnce(client, withdrawalWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.withdrawal(input.withdrawalId),
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [
      { key: WithdrawalStatusKey, value: 'pending_approval' },
      { key: UserIdKey, value: input.userId },
    ],
  });
}

/**
 * One operator refund: claim the payment's refund step, refund in Stripe, post or release the
 * hold. A closed run's id is never reused, so a retried request cannot refund twice.
 */
export function startOperatorRefund(
  client: Client,
  taskQueue: string,
  input: InputOf<typeof operatorRefundWorkflow>,
) {
  return startOnce(client, operatorRefundWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.operatorRefund(input.refundId),
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: [{ key: UserIdKey, value: input.userId }],
  });
}

/**
 * Hands one charge.dispute.* event to its dispute's workflow, starting it if this is the
 * dispute's first event (whichever that is: webhooks come in any order). A dispute whose run has
 * ended is never started again: WorkflowExecutionAlreadyStartedError, which the caller reads as
 * "already settled".
 */
export function signalDispute(
  client: Client,
  taskQueue: string,
  input: InputOf<typeof disputeWorkflow>,
  event: DisputeChanged,
) {
  return client.workflow.signalWithStart(disputeWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.dispute(input.disputeId),
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    signal: disputeChangedSignal,
    signalArgs: [event],
    typedSearchAttributes: [{ key: UserIdKey, value: input.userId }],
  });
}

/**
 * Hands one threshold crossing to the user's auto top-up workflow, starting a run when none is
 * open (a run ends when idle, so its id is reused: the default ALLOW_DUPLICATE policy). One
 * run per user at a time is what serializes the user's top-ups (DESIGN.md §13).
 */
export function signalAutoTopUp(
  client: Client,
  taskQueue: string,
  input: InputOf<typeof autoTopUpWorkflow>,
  crossing: ThresholdCrossed,
) {
  return client.workflow.signalWithStart(autoTopUpWorkflow, {
    args: [input],
    taskQueue,
    workflowId: workflowIds.autoTopUp(input.userId),
    signal: thresholdCrossedSignal,
    signalArgs: [crossing],
    typedSearchAttributes: [{ key: UserIdKey, value: input.userId }],
  });
}

/** The ledger's hold sweeper, once per namespace; a second start is a no-op. */
export async function ensureHoldSweeper(
  client: Client,
  options: { taskQueue?: string; intervalSeconds?: number } = {},
): Promise<void> {
  await startOnce(client, holdSweeperWorkflow, {
    args: [{ intervalSeconds: options.intervalSeconds ?? 30 }],
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    workflowId: workflowIds.holdSweeper(),
  });
}
