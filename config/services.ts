import { Metrics } from '../api/metrics';
import { Ledger } from '../db/ledger';
import { createPool, type Sql } from '../db/pool';
import { RateCards } from '../db/rate-cards';
import { createMailer, type Mailer } from '../mail/mailer';

/** What the API and the worker share: one pool, the ledger, the rate cards, the mailer. */
export interface Services {
  sql: Sql;
  ledger: Ledger;
  metrics: Metrics;
  rateCards: RateCards;
  mailer: Mailer;
  close(): Promise<void>;
}

export async function openServices(options: {
  databaseUrl: string;
  smtpUrl?: string | undefined;
  poolSize?: number;
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
    close: () => sql.end(),
  };
}
