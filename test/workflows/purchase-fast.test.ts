import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { PurchaseWorkflowActivities } from '../../activities';
import {
  checkoutUpdate,
  type PurchaseInput,
  paymentFailedSignal,
  paymentSucceededSignal,
  workflowIds,
} from '../../workflows/messages';
import {
  duplicateChargeWorkflow,
  purchaseRefundedWorkflow,
  purchaseWorkflow,
} from '../../workflows/purchase';
import { type StubWorker, startStubWorker, startTimeSkipping } from './time-skipping';

/**
 * The purchase saga's logic on the time-skipping server with stubbed activities: the poll
 * interval and the session expiry pass in an instant. test/purchases proves it on the real stack.
 */

const ACTIVITIES = [
  'createPurchaseRecord',
  'createCheckoutSession',
  'pollCheckoutSession',
  'creditPurchase',
  'closePurchase',
  'announceTopUp',
  'sendReceipt',
  'refundDuplicateCharge',
  'takeBackRefundedCredits',
  'reversePurchaseCredits',
] as const satisfies readonly (keyof PurchaseWorkflowActivities)[];

let env: TestWorkflowEnvironment;
let worker: StubWorker<PurchaseWorkflowActivities>;
beforeAll(async () => {
  env = await startTimeSkipping();
  worker = await startStubWorker<PurchaseWorkflowActivities>(env, ACTIVITIES);
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

/** Runs `body` against `stubs` on the file's worker. */
async function withStubs<T>(
  stubs: PurchaseWorkflowActivities,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  worker.use(stubs);
  return body(worker.taskQueue);
}

let seq = 0;
function purchaseInput(overrides: Partial<PurchaseInput> = {}): PurchaseInput {
  seq++;
  return {
    purchaseId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    userId: 'user-1',
    email: 'buyer@example.com',
    packageId: 'starter',
    packageName: 'Starter Package',
    credits: 4500,
    priceCents: 5000,
    currency: 'usd',
    successUrl: 'http://localhost/ok',
    cancelUrl: 'http://localhost/cancel',
    expiresAt: 2_000_000_000,
    pollIntervalSeconds: 15,
    ...overrides,
  };
}

type Poll = Awaited<ReturnType<PurchaseWorkflowActivities['pollCheckoutSession']>>;

/** Stubs that record every call; `polls` are the answers Stripe gives, one per poll, last repeated. */
function purchaseStubs(polls: Poll[] = [{ status: 'open', paymentIntentId: null }]) {
  const calls: { name: string; input: unknown }[] = [];
  const record = (name: string, input: unknown) => calls.push({ name, input });
  let pollCount = 0;
  const stubs: PurchaseWorkflowActivities = {
    async createPurchaseRecord(input) {
      record('createPurchaseRecord', input);
    },
    async createCheckoutSession(input) {
      record('createCheckoutSession', input);
      return { sessionId: `cs_${input.purchaseId}`, checkoutUrl: `http://stripe.test/${input.purchaseId}` };
    },
    async pollCheckoutSession(input) {
      record('pollCheckoutSession', input);
      return polls[Math.min(pollCount++, polls.length - 1)]!;
    },
    async creditPurchase(input) {
      record('creditPurchase', input);
      return { available: input.credits };
    },
    async closePurchase(input) {
      record('closePurchase', input);
    },
    async announceTopUp(input) {
      record('announceTopUp', input);
      return 0;
    },
    async sendReceipt(input) {
      record('sendReceipt', input);
      return { sent: true };
    },
    async refundDuplicateCharge(input) {
      record('refundDuplicateCharge', input);
    },
    async takeBackRefundedCredits(input) {
      record('takeBackRefundedCredits', input);
      return { claimed: true, status: 'partially_refunded', creditsDue: 0, creditsReversed: 0 };
    },
    async reversePurchaseCredits(input) {
      record('reversePurchaseCredits', input);
    },
  };
  const named = (name: string) => calls.filter((c) => c.name === name).map((c) => c.input);
  return { stubs, calls, named };
}

test('when the webhook signals the payment, then the purchase is credited once, announced and receipted, without polling', async () => {
  const { stubs, named } = purchaseStubs();
  const input = purchaseInput();
  const outcome = await withStubs(stubs, async (taskQueue) => {
    const handle = await env.client.workflow.start(purchaseWorkflow, {
      taskQueue,
      workflowId: workflowIds.purchase(input.purchaseId),
      args: [input],
    });
    const checkout = await handle.executeUpdate(checkoutUpdate);
    expect(checkout).toEqual({
      sessionId: `cs_${input.purchaseId}`,
      checkoutUrl: `http://stripe.test/${input.purchaseId}`,
    });
    await handle.signal(paymentSucceededSignal, {
      sessionId: checkout.sessionId,
      paymentIntentId: 'pi_webhook',
      source: 'webhook',
    });
    return handle.result();
  });
  expect(outcome).toEqual({ status: 'completed', paymentIntentId: 'pi_webhook', duplicatesRefunded: [] });
  expect(named('creditPurchase')).toEqual([
    {
      purchaseId: input.purchaseId,
      userId: input.userId,
      credits: 4500,
      sessionId: `cs_${input.purchaseId}`,
      paymentIntentId: 'pi_webhook',
    },
  ]);
  expect(named('announceTopUp')).toEqual([{ userId: input.userId, reason: 'purchase' }]);
  expect(named('sendReceipt')).toEqual([{ purchaseId: input.purchaseId }]);
  expect(named('pollCheckoutSession')).toEqual([]);
  expect(named('closePurchase')).toEqual([]);
});

test('when no webhook comes, then polling Stripe finds the payment and credits it', async () => {
  const { stubs, named } = purchaseStubs([
    { status: 'open', paymentIntentId: null },
    { status: 'open', paymentIntentId: null },
    { status: 'complete', paymentIntentId: 'pi_polled' },
  ]);
  const input = purchaseInput();
  const before = await env.currentTimeMs();
  const outcome = await withStubs(stubs, (taskQueue) =>
    env.client.workflow.execute(purchaseWorkflow, {
      taskQueue,
      workflowId: workflowIds.purchase(input.purchaseId),
      args: [input],
    }),
  );
  expect(outcome.status).toBe('completed');
  expect(outcome.paymentIntentId).toBe('pi_polled');
  expect(named('pollCheckoutSession')).toHaveLength(3);
  expect(named('creditPurchase')).toEqual([expect.objectContaining({ paymentIntentId: 'pi_polled' })]);
  // Three poll intervals passed on the workflow's clock, in an instant of ours.
  expect((await env.currentTimeMs()) - before).toBeGreaterThanOrEqual(3 * 15_000);
});

test('when the payment fails, then the purchase is closed as failed and nothing is credited', async () => {
  const { stubs, named } = purchaseStubs();
  const input = purchaseInput();
  const outcome = await withStubs(stubs, async (taskQueue) => {
    const handle = await env.client.workflow.start(purchaseWorkflow, {
      taskQueue,
      workflowId: workflowIds.purchase(input.purchaseId),
      args: [input],
    });
    await handle.signal(paymentFailedSignal, { reason: 'card declined' });
    return handle.result();
  });
  expect(outcome).toEqual({ status: 'failed', paymentIntentId: null, duplicatesRefunded: [] });
  expect(named('closePurchase')).toEqual([
    { purchaseId: input.purchaseId, status: 'failed', reason: 'card declined' },
  ]);
  expect(named('creditPurchase')).toEqual([]);
  expect(named('sendReceipt')).toEqual([]);
});

test('when Stripe reports the session expired, then the purchase is closed as expired and nothing is credited', async () => {
  const { stubs, named } = purchaseStubs([
    { status: 'open', paymentIntentId: null },
    { status: 'expired', paymentIntentId: null },
  ]);
  const input = purchaseInput();
  const outcome = await withStubs(stubs, (taskQueue) =>
    env.client.workflow.execute(purchaseWorkflow, {
      taskQueue,
      workflowId: workflowIds.purchase(input.purchaseId),
      args: [input],
    }),
  );
  expect(outcome.status).toBe('expired');
  expect(named('closePurchase')).toEqual([
    { purchaseId: input.purchaseId, status: 'expired', reason: 'checkout session expired' },
  ]);
  expect(named('creditPurchase')).toEqual([]);
});

test('when a second payment arrives for the same purchase, then the first is credited and the second refunded', async () => {
  const { stubs, named } = purchaseStubs();
  const input = purchaseInput();
  const outcome = await withStubs(stubs, async (taskQueue) => {
    const handle = await env.client.workflow.start(purchaseWorkflow, {
      taskQueue,
      workflowId: workflowIds.purchase(input.purchaseId),
      args: [input],
    });
    const { sessionId } = await handle.executeUpdate(checkoutUpdate);
    // The same payment twice (a redelivery) counts once; another payment is a duplicate.
    for (const paymentIntentId of ['pi_first', 'pi_first', 'pi_second'])
      await handle.signal(paymentSucceededSignal, { sessionId, paymentIntentId, source: 'webhook' });
    return handle.result();
  });
  expect(outcome).toEqual({
    status: 'completed',
    paymentIntentId: 'pi_first',
    duplicatesRefunded: ['pi_second'],
  });
  expect(named('creditPurchase')).toEqual([expect.objectContaining({ paymentIntentId: 'pi_first' })]);
  expect(named('refundDuplicateCharge')).toEqual([
    { purchaseId: input.purchaseId, paymentIntentId: 'pi_second' },
  ]);
});

test('when a duplicate charge comes after the purchase finished, then duplicateChargeWorkflow refunds it', async () => {
  const { stubs, named } = purchaseStubs();
  await withStubs(stubs, (taskQueue) =>
    env.client.workflow.execute(duplicateChargeWorkflow, {
      taskQueue,
      workflowId: workflowIds.duplicateCharge('pi_late'),
      args: [{ purchaseId: 'p-late', paymentIntentId: 'pi_late' }],
    }),
  );
  expect(named('refundDuplicateCharge')).toEqual([{ purchaseId: 'p-late', paymentIntentId: 'pi_late' }]);
});

test('when a refund in Stripe names the refunded total, then the credits are taken back in proportion (patched), and the history is kept', async () => {
  const { stubs, named } = purchaseStubs();
  const input = { purchaseId: 'p-refund', paymentIntentId: 'pi_fixture_v2', refundedThroughCents: 2500 };
  const history = await withStubs(stubs, async (taskQueue) => {
    const handle = await env.client.workflow.start(purchaseRefundedWorkflow, {
      taskQueue,
      workflowId: workflowIds.purchaseRefunded(input.paymentIntentId, input.refundedThroughCents),
      args: [input],
    });
    await handle.result();
    return handle.fetchHistory();
  });
  expect(named('takeBackRefundedCredits')).toEqual([input]);
  expect(named('reversePurchaseCredits')).toEqual([]);
  if (process.env.UPDATE_HISTORIES)
    await writeFile(
      path.join(__dirname, 'histories', 'purchase-refunded-proportional.json'),
      historyToJSON(history),
    );
});

test('when a refund run was started without a refunded total (before partial refunds), then the whole purchase is reversed as before', async () => {
  const { stubs, named } = purchaseStubs();
  await withStubs(stubs, (taskQueue) =>
    env.client.workflow.execute(purchaseRefundedWorkflow, {
      taskQueue,
      workflowId: 'purchase-refunded-pi_old_input',
      args: [{ purchaseId: 'p-old', paymentIntentId: 'pi_old_input' }],
    }),
  );
  expect(named('reversePurchaseCredits')).toEqual([{ purchaseId: 'p-old', paymentIntentId: 'pi_old_input' }]);
  expect(named('takeBackRefundedCredits')).toEqual([]);
});
