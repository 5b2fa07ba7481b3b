import Stripe from 'stripe';

export interface StripeEndpoint {
  host: string;
  port: number;
  protocol: 'http' | 'https';
}

/**
 * The real `stripe` SDK; pointed at the local stand-in when no STRIPE_SECRET_KEY is configured
 * (the SDK's own host/port/protocol options, nothing patched).
 */
export function createStripeClient(secretKey: string, endpoint?: StripeEndpoint): Stripe {
  return new Stripe(secretKey, {
    maxNetworkRetries: 2,
    timeout: 20_000,
    ...(endpoint ? { host: endpoint.host, port: endpoint.port, protocol: endpoint.protocol } : {}),
  });
}
