import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WithdrawalWorkflowActivities } from '../../activities';
import {
  decideWithdrawalUpdate,
  WITHDRAWAL_DECISION_REFUSED,
  type WithdrawalDecision,
  type WithdrawalInput,
  workflowIds,
} from '../../workflows/messages';
import { WithdrawalStatusKey } from '../../workflows/search-attributes';
import { withdrawalWorkflow } from '../../workflows/withdrawal';
import { waitFor } from '../support/wait';
import { type StubWorker, startStubWorker, startTimeSkipping } from './time-skipping';

/**
 * The withdrawal workflow's logic on the time-skipping server with stubbed activities: the
 * 14-day decision window passes in an instant. test/withdrawals proves it on the real stack.
 */

const ACTIVITIES = [
  'transferWithdrawal',
  'payWithdrawal',
  'releaseWithdrawal',
] as const satisfies readonly (keyof WithdrawalWorkflowActivities)[];

const FOURTEEN_DAYS_MS = 14 * 24 * 3600 * 1000;

let env: TestWorkflowEnvironment;
let worker: StubWorker<WithdrawalWorkflowActivities>;
beforeAll(async () => {
  env = await startTimeSkipping();
  worker = await startStubWorker<WithdrawalWorkflowActivities>(env, ACTIVITIES);
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

let seq = 0;
async function withdrawalInput(overrides: Partial<WithdrawalInput> = {}): Promise<WithdrawalInput> {
  seq++;
  return {
    withdrawalId: `00000000-0000-4000-9000-${String(seq).padStart(12, '0')}`,
    userId: 'user-1',
    credits: 1500,
    amountCents: 1500,
    currency: 'usd',
    expiresAt: new Date((await env.currentTimeMs()) + FOURTEEN_DAYS_MS).toISOString(),
    ...overrides,
  };
}

type Transfer = Awaited<ReturnType<WithdrawalWorkflowActivities['transferWithdrawal']>>;

/** Stubs that record every call; `transfer` is what Stripe answers. */
function withdrawalStubs(transfer: Transfer = { ok: true, transferId: 'tr_1' }) {
  const calls: { name: string; input: unknown }[] = [];
  const stubs: WithdrawalWorkflowActivities = {
    async transferWithdrawal(input) {
      calls.push({ name: 'transferWithdrawal', input });
      return transfer;
    },
    async payWithdrawal(input) {
      calls.push({ name: 'payWithdrawal', input });
    },
    async releaseWithdrawal(input) {
      calls.push({ name: 'releaseWithdrawal', input });
      await gate;
    },
  };
  let gate: Promise<void> = Promise.resolve();
  worker.use(stubs);
  return {
    names: () => calls.map((c) => c.name),
    named: (n: string) => calls.filter((c) => c.name === n),
    /** Holds the release activity until the returned function is called. */
    gateRelease: () => {
      let open = () => {};
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      return () => open();
    },
  };
}

async function start(input: WithdrawalInput) {
  return env.client.workflow.start(withdrawalWorkflow, {
    taskQueue: worker.taskQueue,
    workflowId: workflowIds.withdrawal(input.withdrawalId),
    args: [input],
  });
}

/** The validator's refusal as the client sees it: its message, or null when the decision was accepted. */
async function refusal(promise: Promise<unknown>): Promise<string | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    if (
      error instanceof WorkflowUpdateFailedError &&
      error.cause instanceof ApplicationFailure &&
      error.cause.type === WITHDRAWAL_DECISION_REFUSED
    )
      return error.cause.message;
    throw error;
  }
}

test('when the operator approves, then the transfer is made and the hold posted: paid, and a second decision is refused', async () => {
  const { names, named } = withdrawalStubs();
  const input = await withdrawalInput();
  const handle = await start(input);
  const accepted = await handle.executeUpdate(decideWithdrawalUpdate, { args: [{ decision: 'approve' }] });
  expect(accepted).toEqual({ decision: 'approve', status: 'pending_approval' });
  expect(
    await refusal(
      handle.executeUpdate(decideWithdrawalUpdate, { args: [{ decision: 'reject', reason: 'late' }] }),
    ),
  ).toMatch(/already decided \(approve\)/);
  expect(await handle.result()).toEqual({ status: 'paid', transferId: 'tr_1', reason: null });
  expect(names()).toEqual(['transferWithdrawal', 'payWithdrawal']);
  expect(named('payWithdrawal')[0]!.input).toEqual({ withdrawalId: input.withdrawalId, transferId: 'tr_1' });
  expect((await handle.describe()).typedSearchAttributes.get(WithdrawalStatusKey)).toBe('paid');
});

test('when the operator rejects with a reason, then the hold is released as rejected and no transfer is made', async () => {
  const { names, named } = withdrawalStubs();
  const input = await withdrawalInput();
  const handle = await start(input);
  await handle.executeUpdate(decideWithdrawalUpdate, {
    args: [{ decision: 'reject', reason: 'fraud check' }],
  });
  expect(await handle.result()).toEqual({ status: 'rejected', transferId: null, reason: 'fraud check' });
  expect(names()).toEqual(['releaseWithdrawal']);
  expect(named('releaseWithdrawal')[0]!.input).toEqual({
    withdrawalId: input.withdrawalId,
    status: 'rejected',
    reason: 'fraud check',
  });
});

test('when Stripe refuses the transfer, then the hold is released as failed with Stripe’s reason', async () => {
  const { names, named } = withdrawalStubs({ ok: false, reason: 'Stripe refused the transfer: balance' });
  const input = await withdrawalInput();
  const handle = await start(input);
  await handle.executeUpdate(decideWithdrawalUpdate, { args: [{ decision: 'approve' }] });
  expect(await handle.result()).toEqual({
    status: 'failed',
    transferId: null,
    reason: 'Stripe refused the transfer: balance',
  });
  expect(names()).toEqual(['transferWithdrawal', 'releaseWithdrawal']);
  expect(named('releaseWithdrawal')[0]!.input).toMatchObject({ status: 'failed' });
  expect((await handle.describe()).typedSearchAttributes.get(WithdrawalStatusKey)).toBe('failed');
});

test('when nobody decides for 14 days, then it expires and releases the hold; a decision after that is refused', async () => {
  const { names, named, gateRelease } = withdrawalStubs();
  const open = gateRelease();
  const input = await withdrawalInput();
  const before = await env.currentTimeMs();
  const handle = await start(input);
  await env.sleep(FOURTEEN_DAYS_MS);
  await waitFor('the release to start', async () => named('releaseWithdrawal').length === 1);
  // The run is still releasing: its validator, not a closed run, refuses the late decision.
  expect(
    await refusal(handle.executeUpdate(decideWithdrawalUpdate, { args: [{ decision: 'approve' }] })),
  ).toMatch(/has expired/);
  open();
  expect(await handle.result()).toEqual({
    status: 'expired',
    transferId: null,
    reason: 'not decided in time',
  });
  expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(FOURTEEN_DAYS_MS);
  expect(names()).toEqual(['releaseWithdrawal']);
  expect(named('releaseWithdrawal')[0]!.input).toMatchObject({ status: 'expired' });
  expect((await handle.describe()).typedSearchAttributes.get(WithdrawalStatusKey)).toBe('expired');
});

test('when the 14 days pass while nobody watches, then the result is expired without any decision', async () => {
  const { names } = withdrawalStubs();
  const handle = await start(await withdrawalInput());
  // Waiting for the result lets the server skip the whole window at once.
  expect(await handle.result()).toMatchObject({ status: 'expired' });
  expect(names()).toEqual(['releaseWithdrawal']);
});

test('when a decision is malformed, then the validator refuses it and the withdrawal still waits', async () => {
  const { names } = withdrawalStubs();
  const input = await withdrawalInput();
  const handle = await start(input);
  const bad: unknown[] = [{ decision: 'maybe' }, { decision: 'reject', reason: 'x'.repeat(501) }, null];
  for (const decision of bad)
    expect(
      await refusal(handle.executeUpdate(decideWithdrawalUpdate, { args: [decision as WithdrawalDecision] })),
    ).toMatch(/decision|reason/);
  await handle.executeUpdate(decideWithdrawalUpdate, { args: [{ decision: 'reject' }] });
  expect(await handle.result()).toEqual({ status: 'rejected', transferId: null, reason: null });
  expect(names()).toEqual(['releaseWithdrawal']);
});
