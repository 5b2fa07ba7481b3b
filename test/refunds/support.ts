import { WorkflowNotFoundError } from '@temporalio/client';
import { z } from 'zod';
import { workflowIds } from '../../workflows/messages';
import { ADMIN_KEY, http, type TestApp } from '../support/app';
import { waitFor } from '../support/wait';

/** An operator refund as the API answers it. */
export interface RefundBody {
  id: string;
  purchaseId: string;
  userId: string;
  credits: number;
  amountCents: number;
  currency: string;
  reason: string;
  status: 'pending' | 'succeeded' | 'failed';
  failureReason: string | null;
  stripeRefundId: string | null;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

const chargeSchema = z.object({ id: z.string(), amount_refunded: z.number() }).loose();

/** Operator refunds through HTTP, and what Stripe and the webhooks did about them. */
export function refundsApi(app: TestApp) {
  const api = http(app.url);

  function refund(body: Record<string, unknown>, key?: string, auth = ADMIN_KEY) {
    return api.post<RefundBody & ErrorBody>(
      '/v1/admin/refunds',
      body,
      auth,
      key ? { 'idempotency-key': key } : undefined,
    );
  }

  /** The refund once Stripe has answered (succeeded or failed). */
  async function settled(id: string): Promise<RefundBody> {
    return waitFor(`refund ${id} settled`, async () => {
      const res = await api.get<RefundBody>(`/v1/admin/refunds/${id}`, ADMIN_KEY);
      return res.body.status === 'pending' ? null : res.body;
    });
  }

  /** What Stripe has refunded of the payment, in all (its charge's amount_refunded). */
  async function refundedInStripe(paymentIntentId: string): Promise<number> {
    const intent = await app.services.stripe.paymentIntents.retrieve(paymentIntentId);
    const chargeId =
      typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge!.id;
    return chargeSchema.parse(await app.services.stripe.charges.retrieve(chargeId)).amount_refunded;
  }

  /**
   * Every charge.refunded of the payment delivered, and every purchaseRefundedWorkflow those
   * started finished: after this, whatever the webhooks were going to take back has been taken.
   */
  async function webhooksSettled(paymentIntentId: string): Promise<void> {
    await app.standIn.idle();
    const totals = app.standIn.events
      .filter((e) => e.type === 'charge.refunded')
      .map((e) => e.data.object as { payment_intent: string; amount_refunded: number })
      .filter((charge) => charge.payment_intent === paymentIntentId)
      .map((charge) => charge.amount_refunded);
    for (const total of totals) {
      const handle = app.temporal.workflow.getHandle(workflowIds.purchaseRefunded(paymentIntentId, total));
      try {
        await handle.result();
      } catch (error) {
        if (!(error instanceof WorkflowNotFoundError)) throw error;
      }
    }
  }

  /** The user's purchased bucket. */
  async function purchased(key: string) {
    const res = await api.get<{
      buckets: { purchased: { posted: number; held: number; available: number } };
    }>('/v1/balance', key);
    const { posted, held, available } = res.body.buckets.purchased;
    return { posted, held, available };
  }

  /** The user's ledger entries of `kind`, newest first, as GET /v1/transactions shows them. */
  async function entries(key: string, kind: string) {
    const res = await api.get<{ data: { amount: number; kind: string; description: string | null }[] }>(
      '/v1/transactions?limit=100',
      key,
    );
    return res.body.data.filter((t) => t.kind === kind);
  }

  return { api, refund, settled, refundedInStripe, webhooksSettled, purchased, entries };
}

/** Takes `credits` of the user's credits as usage would (so they are no longer unused). */
export async function spend(app: TestApp, userId: string, credits: number): Promise<void> {
  await app.ledger.debit({
    idempotencyKey: `test-spend:${userId}:${credits}`,
    userId,
    amount: credits,
    kind: 'usage:test',
  });
}
