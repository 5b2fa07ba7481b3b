import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { AutoTopUpLedgerActivities, AutoTopUpStripeActivities, ReceiptActivities } from '../activities';
import type { AutoTopUpPayment } from '../activities/auto-top-up';
import { localLedgerActivity, localStripeActivity, mailActivity, stripeActivity } from './activity-options';
import {
  type AutoTopUpInput,
  type AutoTopUpProgress,
  type AutoTopUpResult,
  autoTopUpProgressQuery,
  type ThresholdCrossed,
  type TopUp,
  thresholdCrossedSignal,
  topUpSignal,
  workflowIds,
} from './messages';

/*
 * The steps between the crossing and the credits are local activities (no round trip through
 * the Temporal server to schedule each: most of a top-up's latency otherwise); their results
 * still land in history. Polling a payment that is still processing and the receipt are not on
 * that path, so they are ordinary activities.
 */
const records = proxyLocalActivities<AutoTopUpLedgerActivities>(localLedgerActivity);
const charges = proxyLocalActivities<Pick<AutoTopUpStripeActivities, 'chargeSavedCard'>>(localStripeActivity);
const stripe = proxyActivities<Pick<AutoTopUpStripeActivities, 'checkAutoTopUpPayment'>>(stripeActivity);
const receipts = proxyActivities<ReceiptActivities>(mailActivity);

/** Top-ups per run before it continues as new (keeps a busy user's history short). */
const TOP_UPS_PER_RUN = 50;
/** A payment still processing after this many polls is counted as failed (it may settle later in Stripe). */
const MAX_POLLS = 300;

/**
 * Auto top-up (DESIGN.md §13), one run at a time per user (workflow id `auto-top-up-<userId>`,
 * started or signalled by signal-with-start, workflows/starters.ts signalAutoTopUp): it
 * serializes the user's top-ups. Each `thresholdCrossed` signal is one crossing; one that
 * arrives while a top-up is in flight (or waiting to start) is covered by it (`coalesced`): many
 * debits crossing at once make one top-up. For a crossing: open the automatic purchase (the
 * activity checks the setting, its state and the monthly limit counting charges in flight, under
 * the setting's lock) → one off-session PaymentIntent keyed by it → poll while it processes →
 * credit once (keyed by the PaymentIntent) and send the receipt, or count the failure (the third
 * in a row suspends auto top-up with one notice). Either way the user's running projects get a
 * top-up signal, so one that waited for this top-up instead of pausing tries again. The run ends
 * after `idleSeconds` without a crossing; the next crossing starts a new one.
 */
export async function autoTopUpWorkflow(input: AutoTopUpInput): Promise<AutoTopUpProgress> {
  const progress: AutoTopUpProgress = { inFlight: null, coalesced: 0, results: [] };
  let next: ThresholdCrossed | null = input.pending ?? null;

  setHandler(thresholdCrossedSignal, (crossing) => {
    if (next === null && progress.inFlight === null) next = crossing;
    else progress.coalesced++;
  });
  setHandler(autoTopUpProgressQuery, () => progress);

  for (let done = 0; ; done++) {
    if (done >= TOP_UPS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof autoTopUpWorkflow>({
        userId: input.userId,
        pollIntervalSeconds: input.pollIntervalSeconds,
        idleSeconds: input.idleSeconds,
        ...(next === null ? {} : { pending: next }),
      });
    }
    // A crossing delivered in the same activation as the idle timer still counts: `next` decides.
    await condition(() => next !== null, `${input.idleSeconds} seconds`);
    const crossing = next;
    if (crossing === null) break;
    progress.inFlight = { crossingKey: crossing.crossingKey, purchaseId: null, paymentIntentId: null };
    next = null;
    const result = await topUp(input, crossing, progress);
    progress.results.push(result);
    progress.inFlight = null;
  }
  await condition(allHandlersFinished);
  return progress;
}

async function topUp(
  input: AutoTopUpInput,
  crossing: ThresholdCrossed,
  progress: AutoTopUpProgress,
): Promise<AutoTopUpResult> {
  const { userId } = input;
  const attempt = await records.beginAutoTopUp({ userId, crossingKey: crossing.crossingKey });
  if (attempt.kind === 'skipped') return { outcome: 'skipped', reason: attempt.reason };
  const { purchaseId } = attempt;
  progress.inFlight = { crossingKey: crossing.crossingKey, purchaseId, paymentIntentId: null };

  let payment: AutoTopUpPayment = await charges.chargeSavedCard({
    purchaseId,
    userId,
    customerId: attempt.customerId,
    paymentMethodId: attempt.paymentMethodId,
    amountCents: attempt.amountCents,
    currency: attempt.currency,
    packageId: attempt.packageId,
  });
  progress.inFlight.paymentIntentId = payment.paymentIntentId;
  for (let polls = 0; payment.status === 'processing' && payment.paymentIntentId !== null; polls++) {
    if (polls >= MAX_POLLS) {
      payment = { ...payment, status: 'failed', reason: 'still processing: gave up waiting' };
      break;
    }
    await sleep(`${input.pollIntervalSeconds} seconds`);
    payment = await stripe.checkAutoTopUpPayment({ paymentIntentId: payment.paymentIntentId });
  }

  if (payment.status === 'succeeded' && payment.paymentIntentId !== null) {
    const credited = await records.creditAutoTopUp({
      purchaseId,
      userId,
      credits: attempt.credits,
      paymentIntentId: payment.paymentIntentId,
    });
    await wakeProjects(credited.projectIds, { reason: 'purchase', available: credited.available });
    await receipts.sendReceipt({ purchaseId });
    return { outcome: 'credited', purchaseId, paymentIntentId: payment.paymentIntentId };
  }
  const reason = payment.reason ?? 'payment failed';
  const failed = await records.failAutoTopUp({ purchaseId, userId, reason });
  await wakeProjects(failed.projectIds, { reason: 'other', available: crossing.headroom });
  return {
    outcome: 'failed',
    purchaseId,
    paymentIntentId: payment.paymentIntentId,
    reason,
    suspended: failed.suspended,
  };
}

/** Projects that ended meanwhile are skipped: a lost wake-up only costs a waiting project its timer. */
async function wakeProjects(projectIds: string[], topUp: TopUp): Promise<void> {
  await Promise.all(
    projectIds.map((id) =>
      getExternalWorkflowHandle(workflowIds.project(id))
        .signal(topUpSignal, topUp)
        .catch(() => undefined),
    ),
  );
}
