import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { AutoTopUpWorkflowActivities } from '../../activities';
import type { AutoTopUpAttempt, AutoTopUpPayment } from '../../activities/auto-top-up';
import { autoTopUpWorkflow } from '../../workflows/auto-top-up';
import {
  type AutoTopUpInput,
  autoTopUpProgressQuery,
  type ThresholdCrossed,
  thresholdCrossedSignal,
  workflowIds,
} from '../../workflows/messages';
import { type StubWorker, startStubWorker, startTimeSkipping } from './time-skipping';

/**
 * The auto top-up workflow's logic on the time-skipping server with stubbed activities: idle
 * timers and payment polls pass in an instant. test/auto-top-up proves it on the real stack.
 */

const ACTIVITIES = [
  'beginAutoTopUp',
  'chargeSavedCard',
  'checkAutoTopUpPayment',
  'creditAutoTopUp',
  'failAutoTopUp',
  'sendReceipt',
] as const satisfies readonly (keyof AutoTopUpWorkflowActivities)[];

let env: TestWorkflowEnvironment;
let worker: StubWorker<AutoTopUpWorkflowActivities>;
beforeAll(async () => {
  env = await startTimeSkipping();
  worker = await startStubWorker<AutoTopUpWorkflowActivities>(env, ACTIVITIES);
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

let seq = 0;
function input(overrides: Partial<AutoTopUpInput> = {}): AutoTopUpInput {
  seq++;
  return { userId: `user-${seq}`, pollIntervalSeconds: 5, idleSeconds: 60, ...overrides };
}

const crossing = (key: string): ThresholdCrossed => ({ crossingKey: key, belowCredits: 1000, headroom: 900 });

interface Options {
  attempt?: (crossingKey: string) => AutoTopUpAttempt;
  /** Answers of chargeSavedCard, one per call (the last repeated). */
  charges?: AutoTopUpPayment[];
  /** Answers of checkAutoTopUpPayment, one per poll (the last repeated). */
  polls?: AutoTopUpPayment[];
  /** chargeSavedCard waits for this before answering (a top-up kept in flight). */
  gate?: Promise<void>;
  suspendOn?: number;
}

const charge = (purchaseId: string): AutoTopUpAttempt => ({
  kind: 'charge',
  purchaseId,
  packageId: 'starter',
  credits: 4500,
  amountCents: 5000,
  currency: 'usd',
  customerId: 'cus_1',
  paymentMethodId: 'pm_1',
});
const succeeded = (id = 'pi_1'): AutoTopUpPayment => ({
  status: 'succeeded',
  paymentIntentId: id,
  reason: null,
});

/** Stubs that record every call. */
function stubs(options: Options = {}) {
  const calls: { name: string; input: unknown }[] = [];
  let charges = 0;
  let polls = 0;
  let failures = 0;
  const pick = <T>(list: T[] | undefined, i: number, fallback: T) =>
    list?.length ? list[Math.min(i, list.length - 1)]! : fallback;
  worker.use({
    async beginAutoTopUp(i) {
      calls.push({ name: 'beginAutoTopUp', input: i });
      return options.attempt?.(i.crossingKey) ?? charge(`purchase-${i.crossingKey}`);
    },
    async chargeSavedCard(i) {
      calls.push({ name: 'chargeSavedCard', input: i });
      await options.gate;
      return pick(options.charges, charges++, succeeded(`pi_${i.purchaseId}`));
    },
    async checkAutoTopUpPayment(i) {
      calls.push({ name: 'checkAutoTopUpPayment', input: i });
      return pick(options.polls, polls++, succeeded(i.paymentIntentId));
    },
    async creditAutoTopUp(i) {
      calls.push({ name: 'creditAutoTopUp', input: i });
      return { available: 5400, projectIds: ['project-that-ended'] };
    },
    async failAutoTopUp(i) {
      calls.push({ name: 'failAutoTopUp', input: i });
      failures++;
      return { suspended: failures === options.suspendOn, failuresInARow: failures, projectIds: [] };
    },
    async sendReceipt(i) {
      calls.push({ name: 'sendReceipt', input: i });
      return { sent: true };
    },
  });
  return {
    names: () => calls.map((c) => c.name),
    named: (n: string) => calls.filter((c) => c.name === n).map((c) => c.input),
  };
}

function signal(i: AutoTopUpInput, c: ThresholdCrossed) {
  return env.client.workflow.signalWithStart(autoTopUpWorkflow, {
    args: [i],
    taskQueue: worker.taskQueue,
    workflowId: workflowIds.autoTopUp(i.userId),
    signal: thresholdCrossedSignal,
    signalArgs: [c],
  });
}

test('when a crossing arrives, then one top-up is charged, credited, receipted, and the run ends when idle; the history is kept', async () => {
  const { names, named } = stubs();
  const i = input();
  const handle = await signal(i, crossing('usage:u:e1'));
  const result = await handle.result();
  expect(names()).toEqual(['beginAutoTopUp', 'chargeSavedCard', 'creditAutoTopUp', 'sendReceipt']);
  expect(named('beginAutoTopUp')).toEqual([{ userId: i.userId, crossingKey: 'usage:u:e1' }]);
  expect(named('creditAutoTopUp')).toEqual([
    {
      purchaseId: 'purchase-usage:u:e1',
      userId: i.userId,
      credits: 4500,
      paymentIntentId: 'pi_purchase-usage:u:e1',
    },
  ]);
  expect(result).toEqual({
    inFlight: null,
    coalesced: 0,
    results: [
      { outcome: 'credited', purchaseId: 'purchase-usage:u:e1', paymentIntentId: 'pi_purchase-usage:u:e1' },
    ],
  });
  if (process.env.UPDATE_HISTORIES)
    await writeFile(
      path.join(__dirname, 'histories', 'auto-top-up-credited.json'),
      historyToJSON(await handle.fetchHistory()),
    );
});

test('when many crossings arrive while one top-up is in flight, then they make that one top-up', async () => {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const { names } = stubs({ gate });
  const i = input();
  const handle = await signal(i, crossing('c-0'));
  for (let n = 1; n < 20; n++) await signal(i, crossing(`c-${n}`));
  // All 20 delivered while the first is being charged.
  for (;;) {
    const p = await handle.query(autoTopUpProgressQuery);
    if (p.coalesced === 19) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  open();
  const result = await handle.result();
  expect(names().filter((n) => n === 'chargeSavedCard')).toHaveLength(1);
  expect(names().filter((n) => n === 'creditAutoTopUp')).toHaveLength(1);
  expect(result).toMatchObject({ coalesced: 19, results: [{ outcome: 'credited' }] });
});

test('when crossings come one after another, then each settled top-up is followed by the next', async () => {
  const { names } = stubs();
  const i = input();
  const first = await signal(i, crossing('a'));
  for (;;) {
    const p = await first.query(autoTopUpProgressQuery);
    if (p.results.length === 1) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await signal(i, crossing('b'));
  const result = await first.result();
  expect(result.results.map((r) => r.outcome)).toEqual(['credited', 'credited']);
  expect(names().filter((n) => n === 'chargeSavedCard')).toHaveLength(2);
});

test('when the card declines three times, then three failures are counted, nothing is credited, the third suspends; the history is kept', async () => {
  const declined: AutoTopUpPayment = {
    status: 'failed',
    paymentIntentId: 'pi_x',
    reason: 'card_declined: no',
  };
  const { names, named } = stubs({ charges: [declined], suspendOn: 3 });
  const i = input();
  const handle = await signal(i, crossing('d1'));
  for (const key of ['d2', 'd3']) {
    const before = named('failAutoTopUp').length;
    for (;;) {
      const p = await handle.query(autoTopUpProgressQuery);
      if (p.results.length > before) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await signal(i, crossing(key));
  }
  const result = await handle.result();
  expect(names()).not.toContain('creditAutoTopUp');
  expect(names()).not.toContain('sendReceipt');
  expect(named('failAutoTopUp')).toHaveLength(3);
  expect(result.results).toEqual([
    expect.objectContaining({ outcome: 'failed', suspended: false, reason: 'card_declined: no' }),
    expect.objectContaining({ outcome: 'failed', suspended: false }),
    expect.objectContaining({ outcome: 'failed', suspended: true }),
  ]);
  if (process.env.UPDATE_HISTORIES)
    await writeFile(
      path.join(__dirname, 'histories', 'auto-top-up-declined-suspended.json'),
      historyToJSON(await handle.fetchHistory()),
    );
});

test('when the payment is still processing, then Stripe is polled until it succeeds, then it is credited', async () => {
  const processing: AutoTopUpPayment = { status: 'processing', paymentIntentId: 'pi_slow', reason: null };
  const { names } = stubs({ charges: [processing], polls: [processing, processing, succeeded('pi_slow')] });
  const result = await (await signal(input(), crossing('slow'))).result();
  expect(names()).toEqual([
    'beginAutoTopUp',
    'chargeSavedCard',
    'checkAutoTopUpPayment',
    'checkAutoTopUpPayment',
    'checkAutoTopUpPayment',
    'creditAutoTopUp',
    'sendReceipt',
  ]);
  expect(result.results).toEqual([
    expect.objectContaining({ outcome: 'credited', paymentIntentId: 'pi_slow' }),
  ]);
});

test('when the crossing is refused (monthly limit), then nothing is charged', async () => {
  const { names } = stubs({ attempt: () => ({ kind: 'skipped', reason: 'monthly_limit' }) });
  const result = await (await signal(input(), crossing('over'))).result();
  expect(names()).toEqual(['beginAutoTopUp']);
  expect(result.results).toEqual([{ outcome: 'skipped', reason: 'monthly_limit' }]);
});
