import Stripe from 'stripe';
import { type StripeStandIn, startStripeStandIn } from '../../dev/stripe';
import { startWebhookReceiver, type WebhookReceiver } from './webhook-receiver';

/** The stand-in's tests: one stand-in delivering to one verifying receiver, driven by the real SDK. */
export interface StandInSetup {
  standIn: StripeStandIn;
  receiver: WebhookReceiver;
  stripe: Stripe;
}

/** The real `stripe` SDK pointed at a stand-in. */
export const sdkFor = (target: StripeStandIn) =>
  new Stripe(target.secretKey, {
    host: target.host,
    port: target.port,
    protocol: 'http',
    // A retry would hide a wrong status from the assertions.
    maxNetworkRetries: 0,
  });

/** A receiver verifying with `webhookSecret`, and a stand-in retrying its deliveries fast. */
export async function startStandInSetup(webhookSecret: string): Promise<StandInSetup> {
  const receiver = await startWebhookReceiver(webhookSecret);
  const standIn = await startStripeStandIn({ webhookSecret, webhookUrl: receiver.url, retryBaseMs: 50 });
  return { standIn, receiver, stripe: sdkFor(standIn) };
}

/**
 * After each test: every delivery made and verified (none rejected), then the faults a test
 * scripted and the receiver's record cleared for the next.
 */
export async function settleStandIn({ standIn, receiver }: StandInSetup): Promise<void> {
  await standIn.idle();
  expect(receiver.rejected).toEqual([]);
  standIn.faults.reset();
  standIn.transferFaults.reset();
  receiver.reset();
}

export async function stopStandInSetup(setup: Partial<StandInSetup>): Promise<void> {
  await setup.standIn?.stop();
  await setup.receiver?.close();
}
