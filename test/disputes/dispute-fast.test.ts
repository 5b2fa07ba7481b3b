import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { DisputeWorkflowActivities } from '../../activities';
import { disputeWorkflow } from '../../workflows/dispute';
import {
  type DisputeChanged,
  type DisputeInput,
  disputeChangedSignal,
  workflowIds,
} from '../../workflows/messages';
import { type StubWorker, startStubWorker, startTimeSkipping } from '../workflows/time-skipping';

/**
 * The dispute workflow's logic on the time-skipping server with stubbed activities: weeks of a
 * dispute pass in an instant. disputes.test.ts proves it on the real stack.
 */

const ACTIVITIES = [
  'openDispute',
  'escrowDispute',
  'closeDispute',
  'checkDispute',
] as const satisfies readonly (keyof DisputeWorkflowActivities)[];

const DAY_S = 24 * 3600;

let env: TestWorkflowEnvironment;
let worker: StubWorker<DisputeWorkflowActivities>;
beforeAll(async () => {
  env = await startTimeSkipping();
  worker = await startStubWorker<DisputeWorkflowActivities>(env, ACTIVITIES);
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

let seq = 0;
function disputeInput(overrides: Partial<DisputeInput> = {}): DisputeInput {
  seq++;
  return {
    disputeId: `dp_fast_${seq}`,
    purchaseId: 'p-1',
    userId: 'user-1',
    paymentIntentId: 'pi_1',
    amountCents: 5000,
    currency: 'usd',
    reason: 'fraudulent',
    pollIntervalSeconds: 6 * 3600,
    escrowAfterSeconds: 29 * DAY_S,
    ...overrides,
  };
}

const OPEN: DisputeChanged = { stripeStatus: 'needs_response', outcome: null };
const WON: DisputeChanged = { stripeStatus: 'won', outcome: 'won' };
const LOST: DisputeChanged = { stripeStatus: 'lost', outcome: 'lost' };

/** Stubs that record every call; `stripe` is what Stripe says of the dispute when asked. */
function disputeStubs(stripe: DisputeChanged = OPEN) {
  const calls: { name: string; input: unknown }[] = [];
  const stubs: DisputeWorkflowActivities = {
    async openDispute(input) {
      calls.push({ name: 'openDispute', input });
      return { creditsDue: 4500, creditsHeld: 4000 };
    },
    async escrowDispute(input) {
      calls.push({ name: 'escrowDispute', input });
    },
    async closeDispute(input) {
      calls.push({ name: 'closeDispute', input });
    },
    async checkDispute(input) {
      calls.push({ name: 'checkDispute', input });
      return stripe;
    },
  };
  worker.use(stubs);
  return {
    names: () => calls.map((c) => c.name),
    named: (n: string) => calls.filter((c) => c.name === n).map((c) => c.input),
  };
}

/** What the webhook does: signal-with-start, whichever event comes first. */
function deliver(input: DisputeInput, event: DisputeChanged) {
  return env.client.workflow.signalWithStart(disputeWorkflow, {
    taskQueue: worker.taskQueue,
    workflowId: workflowIds.dispute(input.disputeId),
    args: [input],
    signal: disputeChangedSignal,
    signalArgs: [event],
  });
}

test('when a dispute opens and is lost, then its credits are held, then posted; duplicated events change nothing', async () => {
  const { names, named } = disputeStubs();
  const input = disputeInput();
  const handle = await deliver(input, OPEN);
  await deliver(input, OPEN);
  await deliver(input, LOST);
  await deliver(input, LOST);
  expect(await handle.result()).toEqual({ outcome: 'lost', creditsDue: 4500, creditsHeld: 4000 });
  expect(names()).toEqual(['openDispute', 'closeDispute']);
  expect(named('closeDispute')).toEqual([{ disputeId: input.disputeId, outcome: 'lost' }]);
});

test('when the closed event overtakes the created one, then the dispute still opens (hold, clawback) before it settles', async () => {
  const { names, named } = disputeStubs();
  const input = disputeInput();
  const handle = await deliver(input, WON);
  await handle.result();
  expect(names()).toEqual(['openDispute', 'closeDispute']);
  expect(named('openDispute')[0]).toMatchObject({ disputeId: input.disputeId, amountCents: 5000 });
  expect(named('closeDispute')).toEqual([{ disputeId: input.disputeId, outcome: 'won' }]);
});

test('when a second outcome arrives after the first (a late, contradicting redelivery), then the first one stands', async () => {
  const { named } = disputeStubs();
  const input = disputeInput();
  const handle = await deliver(input, OPEN);
  await deliver(input, WON);
  await deliver(input, LOST);
  expect(await handle.result()).toMatchObject({ outcome: 'won' });
  expect(named('closeDispute')).toEqual([{ disputeId: input.disputeId, outcome: 'won' }]);
});

test('when charge.dispute.closed is never delivered, then the workflow asks Stripe on its timer and settles by that', async () => {
  const { names } = disputeStubs(LOST);
  const input = disputeInput();
  const handle = await deliver(input, OPEN);
  expect(await handle.result()).toMatchObject({ outcome: 'lost' });
  expect(names()).toEqual(['openDispute', 'checkDispute', 'closeDispute']);
});

test('when a dispute outlives the hold, then its credits move to system:disputes first, and a win gives them back', async () => {
  const { names } = disputeStubs();
  const input = disputeInput();
  const before = await env.currentTimeMs();
  const handle = await deliver(input, OPEN);
  await env.sleep(29 * DAY_S * 1000 + 60_000);
  await deliver(input, WON);
  expect(await handle.result()).toMatchObject({ outcome: 'won' });
  expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(29 * DAY_S * 1000);
  const seen = names();
  expect(seen[0]).toBe('openDispute');
  expect(seen.filter((n) => n === 'escrowDispute')).toHaveLength(1);
  expect(seen.indexOf('escrowDispute')).toBeLessThan(seen.indexOf('closeDispute'));
  expect(seen.at(-1)).toBe('closeDispute');
  // Asked Stripe every 6 hours meanwhile (a lost closed event would have been noticed).
  expect(seen.filter((n) => n === 'checkDispute').length).toBeGreaterThan(100);
});
