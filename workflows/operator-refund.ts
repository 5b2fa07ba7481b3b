import { proxyActivities } from '@temporalio/workflow';
import type {
  OperatorRefundLedgerActivities,
  OperatorRefundStripeActivities,
  RefundReceiptActivities,
} from '../activities';
import { ledgerActivity, mailActivity, stripeActivity } from './activity-options';
import type { OperatorRefundInput, OperatorRefundOutcome } from './messages';

/**
 * The claim retries with the ledger preset: while another operator refund of the same payment is
 * in Stripe's hands it fails with RefundInFlight (retryable) until that one has settled.
 */
const records = proxyActivities<OperatorRefundLedgerActivities>(ledgerActivity);
/** Stripe refusals come back as an outcome, so the preset's retries cover only faults. */
const payments = proxyActivities<OperatorRefundStripeActivities>(stripeActivity);
const receipts = proxyActivities<RefundReceiptActivities>(mailActivity);

/**
 * One operator refund (DESIGN.md §12). Its credits are held when the run starts (the API takes
 * the hold, so it can answer 409 itself). First the refund's step of the payment is claimed, so
 * that Stripe's charge.refunded for this very refund is recognised as already accounted for and
 * no credits are taken a second time; then the partial refund in Stripe, keyed by the refund;
 * then the hold is posted (succeeded) and the receipt sent. A refusal (Stripe's, or a Dashboard
 * refund that left too little) voids the hold and withdraws the step (failed, with the reason).
 */
export async function operatorRefundWorkflow(input: OperatorRefundInput): Promise<OperatorRefundOutcome> {
  const { refundId } = input;
  const fail = async (reason: string): Promise<OperatorRefundOutcome> => {
    await records.failOperatorRefund({ refundId, reason });
    return { status: 'failed', stripeRefundId: null, reason };
  };

  const claimed = await records.claimOperatorRefundStep({ refundId });
  if (!claimed.ok) return fail(claimed.reason);
  const refund = await payments.refundInStripe({ refundId });
  if (!refund.ok) return fail(refund.reason);
  await records.completeOperatorRefund({ refundId, stripeRefundId: refund.stripeRefundId });
  await receipts.sendRefundReceipt({ refundId });
  return { status: 'succeeded', stripeRefundId: refund.stripeRefundId, reason: null };
}
