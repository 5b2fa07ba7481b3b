import { randomBytes } from 'node:crypto';
import type { StripeEndpoint } from '../config/stripe';
import { type StripeStandIn, startStripeStandIn } from './stripe';

export interface LocalStripe {
  secretKey: string;
  webhookSecret: string;
  endpoint?: StripeEndpoint;
  /** Null when real Stripe is configured. */
  standIn: StripeStandIn | null;
}

/**
 * Real Stripe when STRIPE_SECRET_KEY is set; otherwise the local stand-in with a fresh webhook
 * secret. The caller points the stand-in's webhooks at the API once it listens.
 */
export async function localStripe(options: {
  secretKey?: string | undefined;
  webhookSecret?: string | undefined;
  port?: number;
  retryBaseMs?: number;
}): Promise<LocalStripe> {
  if (options.secretKey) {
    if (!options.webhookSecret)
      throw new Error('invalid configuration: STRIPE_WEBHOOK_SECRET: required with STRIPE_SECRET_KEY');
    return { secretKey: options.secretKey, webhookSecret: options.webhookSecret, standIn: null };
  }
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(24).toString('hex')}`;
  const standIn = await startStripeStandIn({
    webhookSecret,
    port: options.port ?? 0,
    retryBaseMs: options.retryBaseMs ?? 500,
  });
  return {
    // The stand-in's own key: it refuses any other, as Stripe does.
    secretKey: standIn.secretKey,
    webhookSecret,
    endpoint: { host: standIn.host, port: standIn.port, protocol: 'http' },
    standIn,
  };
}
