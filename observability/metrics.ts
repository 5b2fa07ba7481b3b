import type { RequestHandler } from 'express';
import { Counter, Histogram, Registry } from 'prom-client';
import type { LedgerObserver } from '../db/ledger';

/** Prometheus metrics for one app instance (own registry, so tests can build many apps). */
export class Metrics {
  readonly registry = new Registry();
  private readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  private readonly transfers = new Counter({
    name: 'ledger_operations_total',
    help: 'Ledger write operations answered, by kind (replays included)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  private readonly credits = new Counter({
    name: 'ledger_credits_moved_total',
    help: 'Credits moved by ledger write operations, by kind (replays included)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly ledgerObserver: LedgerObserver = {
    transfersCommitted: (kind, count, credits) => {
      this.transfers.inc({ kind }, count);
      this.credits.inc({ kind }, credits);
    },
  };

  /** For handlers outside Express (the usage fast path): same histogram, same labels. */
  startRequestTimer(method: string): (route: string, status: number) => void {
    const end = this.httpDuration.startTimer({ method });
    return (route, status) => end({ route, status: String(status) });
  }

  /** Times every request; the label is the matched route pattern, never the raw path. */
  httpTimer(): RequestHandler {
    return (req, res, next) => {
      const end = this.httpDuration.startTimer({ method: req.method });
      res.on('finish', () => {
        const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
        end({ route, status: String(res.statusCode) });
      });
      next();
    };
  }
}
