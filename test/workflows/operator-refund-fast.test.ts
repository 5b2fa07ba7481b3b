import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { OperatorRefundWorkflowActivities } from '../../activities';
import { type OperatorRefundInput, workflowIds } from '../../workflows/messages';
import { operatorRefundWorkflow } from '../../workflows/operator-refund';
import { type StubWorker, startStubWorker, startTimeSkipping } from './time-skipping';

/**
 * The operator refund workflow's logic on the time-skipping server with stubbed activities (the
 * ledger preset's retry backoff passes in an instant). test/refunds proves it on the real stack.
 */

const ACTIVITIES = [
  'claimOperatorRefundStep',
  'refundInStripe',
  'completeOperatorRefund',
  'failOperatorRefund',
  'sendRefundReceipt',
] as const satisfies readonly (keyof OperatorRefundWorkflowActivities)[];

let env: TestWorkflowEnvironment;
let worker: StubWorker<OperatorRefundWorkflowActivities>;
beforeAll(async () => {
  env = await startTimeSkipping();
  worker = await startStubWorker<OperatorRefundWorkflowActivities>(env, ACTIVITIES);
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

let seq = 0;
function refundInput(): OperatorRefundInput {
  seq++;
  return {
    refundId: `00000000-0000-4000-b000-${String(seq).padStart(12, '0')}`,
    purchaseId: 'p-1',
    userId: 'user-1',
    credits: 1000,
    amountCents: 1111,
    currency: 'usd',
  };
}

type Claim = Awaited<ReturnType<OperatorRefundWorkflowActivities['claimOperatorRefundStep']>>;
type Refund = Awaited<ReturnType<OperatorRefundWorkflowActivities['refundInStripe']>>;

/** Stubs that record every call; `claims` are the step's answers in turn (an Error is thrown), the last repeated. */
function refundStubs(options: { claims?: (Claim | Error)[]; stripe?: Refund } = {}) {
  const calls: { name: string; input: unknown }[] = [];
  const claims = options.claims ?? [{ ok: true }];
  let claimed = 0;
  const stubs: OperatorRefundWorkflowActivities = {
    async claimOperatorRefundStep(input) {
      calls.push({ name: 'claimOperatorRefundStep', input });
      const answer = claims[Math.min(claimed++, claims.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    async refundInStripe(input) {
      calls.push({ name: 'refundInStripe', input });
      return options.stripe ?? { ok: true, stripeRefundId: 're_1' };
    },
    async completeOperatorRefund(input) {
      calls.push({ name: 'completeOperatorRefund', input });
    },
    async failOperatorRefund(input) {
      calls.push({ name: 'failOperatorRefund', input });
    },
    async sendRefundReceipt(input) {
      calls.push({ name: 'sendRefundReceipt', input });
      return { sent: true };
    },
  };
  worker.use(stubs);
  return {
    names: () => calls.map((c) => c.name),
    named: (n: string) => calls.filter((c) => c.name === n).map((c) => c.input),
  };
}

function start(input: OperatorRefundInput) {
  return env.client.workflow.start(operatorRefundWorkflow, {
    taskQueue: worker.taskQueue,
    workflowId: workflowIds.operatorRefund(input.refundId),
    args: [input],
  });
}

test('when Stripe refunds, then the step is claimed before the call, the hold posted after it, and the receipt sent; the history is kept', async () => {
  const { names, named } = refundStubs();
  const input = refundInput();
  const handle = await start(input);
  expect(await handle.result()).toEqual({ status: 'succeeded', stripeRefundId: 're_1', reason: null });
  expect(names()).toEqual([
    'claimOperatorRefundStep',
    'refundInStripe',
    'completeOperatorRefund',
    'sendRefundReceipt',
  ]);
  expect(named('completeOperatorRefund')).toEqual([{ refundId: input.refundId, stripeRefundId: 're_1' }]);
  if (process.env.UPDATE_HISTORIES)
    await writeFile(
      path.join(__dirname, 'histories', 'operator-refund-succeeded.json'),
      historyToJSON(await handle.fetchHistory()),
    );
});

test('when Stripe refuses the refund, then the hold is voided and the step withdrawn: failed with Stripe’s reason, no receipt', async () => {
  const reason = 'Stripe refused the refund: Charge ch_1 has been charged back; cannot issue a refund.';
  const { names, named } = refundStubs({ stripe: { ok: false, reason } });
  const input = refundInput();
  expect(await (await start(input)).result()).toEqual({ status: 'failed', stripeRefundId: null, reason });
  expect(names()).toEqual(['claimOperatorRefundStep', 'refundInStripe', 'failOperatorRefund']);
  expect(named('failOperatorRefund')).toEqual([{ refundId: input.refundId, reason }]);
});

test('when the step cannot be claimed (refunded in Stripe meanwhile), then Stripe is never asked and the refund fails', async () => {
  const reason = 'credits: only 500 credits of this purchase are still refundable';
  const { names } = refundStubs({ claims: [{ ok: false, reason }] });
  expect(await (await start(refundInput())).result()).toMatchObject({ status: 'failed', reason });
  expect(names()).toEqual(['claimOperatorRefundStep', 'failOperatorRefund']);
});

test('when another refund of the payment is in flight, then the claim is retried until it settles, and Stripe is asked once', async () => {
  const inFlight = () =>
    ApplicationFailure.retryable('a refund of payment pi_1 is being made', 'RefundInFlight');
  const { names } = refundStubs({ claims: [inFlight(), inFlight(), { ok: true }] });
  expect(await (await start(refundInput())).result()).toMatchObject({ status: 'succeeded' });
  expect(names()).toEqual([
    'claimOperatorRefundStep',
    'claimOperatorRefundStep',
    'claimOperatorRefundStep',
    'refundInStripe',
    'completeOperatorRefund',
    'sendRefundReceipt',
  ]);
});
