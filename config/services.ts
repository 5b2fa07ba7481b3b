import type Stripe from 'stripe';
import { Metrics } from '../api/metrics';
import { Ledger } from '../db/ledger';
import { createPool, type Sql } from '../db/pool';
import { RateCards } from '../db/rate-cards';
import { createMailer, type Mailer } from '../mail/mailer';
import { createStripeClient, type StripeEndpoint } from './stripe';

/** What the API and the worker share: one pool, the ledger, the rate cards, the mailer, Stripe. */
export interface Services {
  sql: Sql;
  ledger: Ledger;
  metrics: Metrics;
  rateCards: RateCards;
  mailer: Mailer;
  stripe: Stripe;
  stripeWebhookSecret: string;
  close(): Promise<void>;
}

export async function openServices(options: {
  databaseUrl: string;
  smtpUrl?: string | undefined;
  poolSize?: number;
  stripe: { secretKey: string; webhookSecret: string; endpoint?: StripeEndpoint | undefined };
}): Promise<Services> {
  const sql = createPool(options.databaseUrl, { max: options.poolSize ?? 20 });
  const metrics = new Metrics();
  const ledger = await Ledger.open(sql, metrics.ledgerObserver);
  return {
    sql,
    ledger,
    metrics,
    rateCards: new RateCards(sql),
    mailer: createMailer(sql, options.smtpUrl),
    stripe: createStripeClient(options.stripe.secretKey, options.stripe.endpoint),
    stripeWebhookSecret: options.stripe.webhookSecret,
    close: async () => {
      await ledger.close();
      await sql.end();
    },
  };
}
