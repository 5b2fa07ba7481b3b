import { formatMoney } from '../../domain';
import { invalidRequest, noSuch, type StripeApiError } from './errors';
import { type Charge, type ListPage, type Metadata, newId, nowSeconds, type StripeEvent } from './objects';
import { paginate } from './pagination';
import type { ListDisputesParams } from './schemas';

/**
 * Disputes (chargebacks), as far as a credit-purchase system meets them: a cardholder's bank
 * disputes a charge (`charge.dispute.created`, status `needs_response`), and Stripe later closes
 * it `won` or `lost` (`charge.dispute.closed`). Tests drive them through the StripeStandIn
 * handle (`openDispute`, `closeDispute`), as a bank and Stripe's review would; the API serves
 * `GET /v1/disputes/:id` and `GET /v1/disputes`. As on Stripe, a charge has at most one
 * dispute, and a disputed charge cannot be refunded unless the dispute was won.
 */

/** Stripe's dispute statuses; the stand-in opens `needs_response` and closes `won` or `lost`. */
export type DisputeStatus =
  | 'warning_needs_response'
  | 'warning_under_review'
  | 'warning_closed'
  | 'needs_response'
  | 'under_review'
  | 'won'
  | 'lost';

export const DISPUTE_REASONS = [
  'bank_cannot_process',
  'credit_not_processed',
  'customer_initiated',
  'debit_not_authorized',
  'duplicate',
  'fraudulent',
  'general',
  'incorrect_account_details',
  'insufficient_funds',
  'product_not_received',
  'product_unacceptable',
  'subscription_canceled',
  'unrecognized',
] as const;
export type DisputeReason = (typeof DISPUTE_REASONS)[number];

/** A Stripe Dispute, trimmed to what a credit-purchase system reads. */
export interface Dispute {
  id: string;
  object: 'dispute';
  created: number;
  livemode: false;
  amount: number;
  currency: string;
  charge: string;
  payment_intent: string;
  status: DisputeStatus;
  reason: DisputeReason;
  is_charge_refundable: boolean;
  metadata: Metadata;
}

export interface OpenDisputeOptions {
  /** Minor units; default: what of the charge is not refunded. */
  amount?: number;
  /** Default `fraudulent`. */
  reason?: DisputeReason;
}

export interface DisputeStoreOptions {
  /** The charge named by a charge id or a payment intent id, or undefined. */
  charge(id: string): Charge | undefined;
  emit(type: string, object: unknown): StripeEvent;
}

export class DisputeStore {
  private readonly disputes = new Map<string, Dispute>();
  private readonly byCharge = new Map<string, Dispute>();

  constructor(private readonly options: DisputeStoreOptions) {}

  /** The cardholder's bank disputes the charge: `charge.dispute.created`. Throws for a charge already disputed. */
  open(chargeOrPaymentIntent: string, options: OpenDisputeOptions = {}): Dispute {
    const charge = this.options.charge(chargeOrPaymentIntent);
    if (!charge) throw noSuch('charge', chargeOrPaymentIntent, 'charge');
    if (this.byCharge.has(charge.id)) throw invalidRequest(`Charge ${charge.id} is already disputed.`);
    const disputable = charge.amount - charge.amount_refunded;
    const amount = options.amount ?? disputable;
    if (!Number.isInteger(amount) || amount < 1 || amount > disputable)
      throw invalidRequest(
        `A dispute of ${charge.id} must be for 1 to ${formatMoney(disputable, charge.currency)} (what is not refunded).`,
        'amount',
      );
    const dispute: Dispute = {
      id: newId('dp'),
      object: 'dispute',
      created: nowSeconds(),
      livemode: false,
      amount,
      currency: charge.currency,
      charge: charge.id,
      payment_intent: charge.payment_intent,
      status: 'needs_response',
      reason: options.reason ?? 'fraudulent',
      is_charge_refundable: false,
      metadata: {},
    };
    this.disputes.set(dispute.id, dispute);
    this.byCharge.set(charge.id, dispute);
    charge.disputed = true;
    this.options.emit('charge.dispute.created', dispute);
    return dispute;
  }

  /** Stripe's review ends: `charge.dispute.closed` with status won or lost. Throws for one already closed. */
  close(disputeId: string, outcome: 'won' | 'lost'): Dispute {
    const dispute = this.get(disputeId);
    if (dispute.status === 'won' || dispute.status === 'lost' || dispute.status === 'warning_closed')
      throw invalidRequest(`Dispute ${disputeId} is already closed (${dispute.status}).`);
    dispute.status = outcome;
    // A won charge is the merchant's again, and can be refunded; a lost one is gone.
    dispute.is_charge_refundable = outcome === 'won';
    this.options.emit('charge.dispute.closed', dispute);
    return dispute;
  }

  get(id: string): Dispute {
    const dispute = this.disputes.get(id);
    if (!dispute) throw noSuch('dispute', id, 'dispute');
    return dispute;
  }

  find(id: string): Dispute | undefined {
    return this.disputes.get(id);
  }

  list(params: ListDisputesParams): ListPage<Dispute> {
    const matching = [...this.disputes.values()]
      .filter((d) => params.charge === undefined || d.charge === params.charge)
      .filter((d) => params.payment_intent === undefined || d.payment_intent === params.payment_intent)
      .reverse();
    return paginate(matching, params, '/v1/disputes');
  }

  /** Stripe refuses to refund a charge with a dispute that was not won (open, or lost). */
  refusesRefund(charge: Charge): StripeApiError | null {
    const dispute = this.byCharge.get(charge.id);
    if (!dispute || dispute.is_charge_refundable) return null;
    const error = invalidRequest(
      `Charge ${charge.id} has been charged back; cannot issue a refund.`,
      undefined,
      'charge_disputed',
    );
    error.replayedForSameKey = true;
    return error;
  }
}
