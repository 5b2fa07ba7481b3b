import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { DisputeLedgerActivities, DisputeStripeActivities } from '../activities';
import { ledgerActivity, stripeActivity } from './activity-options';
import { type DisputeInput, type DisputeOutcome, disputeChangedSignal } from './messages';

const ledger = proxyActivities<DisputeLedgerActivities>(ledgerActivity);
const stripe = proxyActivities<DisputeStripeActivities>(stripeActivity);

/**
 * One dispute of a credited payment (DESIGN.md §12; why a workflow: app/disputes.ts). Every
 * charge.dispute.* webhook signals it with signal-with-start, so whichever event comes first
 * starts it and duplicates change nothing; the first outcome heard (won or lost) is the one.
 * It always opens first (hold the disputed credits, take back a referral reward) and then
 * settles, so a closed event that overtook its created event ends exactly as the ordered pair
 * would. While open it asks Stripe every `pollIntervalSeconds` (a lost closed event heals), and
 * after `escrowAfterSeconds` moves the held credits to system:disputes before the hold lapses.
 */
export async function disputeWorkflow(input: DisputeInput): Promise<DisputeOutcome> {
  let outcome: 'won' | 'lost' | null = null;
  setHandler(disputeChangedSignal, (event) => {
    outcome ??= event.outcome;
  });

  const opened = await ledger.openDispute({
    disputeId: input.disputeId,
    purchaseId: input.purchaseId,
    userId: input.userId,
    paymentIntentId: input.paymentIntentId,
    amountCents: input.amountCents,
    currency: input.currency,
    reason: input.reason,
  });

  // Read through a function: TypeScript narrowed `outcome` to null at its declaration.
  const decided = (): 'won' | 'lost' | null => outcome;
  const escrowAt = Date.now() + input.escrowAfterSeconds * 1000;
  let escrowed = false;
  while (decided() === null) {
    const untilEscrow = escrowed ? Number.POSITIVE_INFINITY : escrowAt - Date.now();
    const waitMs = Math.max(1000, Math.min(input.pollIntervalSeconds * 1000, untilEscrow));
    if (await condition(() => outcome !== null, waitMs)) break;
    if (!escrowed && Date.now() >= escrowAt) {
      await ledger.escrowDispute({ disputeId: input.disputeId });
      escrowed = true;
      continue;
    }
    const seen = await stripe.checkDispute({ disputeId: input.disputeId });
    outcome ??= seen.outcome;
  }

  const final = decided()!;
  await ledger.closeDispute({ disputeId: input.disputeId, outcome: final });
  return { outcome: final, creditsDue: opened.creditsDue, creditsHeld: opened.creditsHeld };
}
