import { createHmac } from 'node:crypto';
import type { StripeEvent } from './objects';

/**
 * Webhook delivery as Stripe does it: each event POSTed as JSON to the endpoint, signed with
 * `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.payload")>`, retried with
 * exponential backoff on a non-2xx answer or a network error. Delivery never blocks the API
 * request that caused the event. `faults` reproduces what the real network does to webhooks
 * (loss, duplicates, delay, reordering) on demand, so tests can prove the receiver copes.
 */

export interface DeliveryRecord {
  eventId: string;
  type: string;
  /** 1 for the first try; 0 for an event a fault dropped before any try. */
  attempt: number;
  /** The endpoint's HTTP status, when it answered. */
  status?: number;
  /** Why no status: a network error, a timeout, or a dropped event. */
  error?: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface WebhookFaults {
  /** The next `n` events are never delivered, as if lost. */
  dropNext(n: number): void;
  /** Each event is delivered `k` times (independently, each with its own retries); 1 = normal. */
  duplicate(k: number): void;
  /** Wait this long before the first attempt of each event. */
  delayMs: number;
  /** Collect events for `windowMs`, then deliver that batch newest first; 0 = off. */
  reorder(windowMs: number): void;
  /** Back to faultless delivery (a batch already collected is still delivered, reversed). */
  reset(): void;
}

export interface DispatcherOptions {
  secret: string;
  url(): string | undefined;
  retryBaseMs: number;
  maxAttempts: number;
  log(line: string): void;
}

// Stripe retries for days; locally a minute is plenty and keeps a dev run's backlog short.
const MAX_RETRY_DELAY_MS = 60_000;
// Stripe gives an endpoint a few seconds to answer; a hung receiver must not hold a delivery forever.
const ATTEMPT_TIMEOUT_MS = 10_000;

/** The header Stripe sends, which `stripe.webhooks.constructEvent` verifies. */
export function signatureHeader(
  payload: string,
  secret: string,
  timestamp = Math.floor(Date.now() / 1000),
): string {
  const signature = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${signature}`;
}

export class WebhookDispatcher {
  readonly deliveries: DeliveryRecord[] = [];
  readonly faults: WebhookFaults;
  private dropRemaining = 0;
  private copies = 1;
  private reorderWindowMs = 0;
  private batch: StripeEvent[] = [];
  private batchTimer: NodeJS.Timeout | undefined;
  /** Deliveries not finished yet, including events waiting in a reorder batch. */
  private pending = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<AbortController>();
  private stopped = false;
  private readonly log: (line: string) => void;

  constructor(private readonly options: DispatcherOptions) {
    // A throwing logger must not break delivery (or surface as an unhandled rejection).
    this.log = (line) => {
      try {
        options.log(line);
      } catch {}
    };
    const dispatcher = this;
    this.faults = {
      delayMs: 0,
      dropNext(n: number) {
        dispatcher.dropRemaining = nonNegativeInteger(n, 'dropNext');
      },
      duplicate(k: number) {
        dispatcher.copies = Math.max(1, nonNegativeInteger(k, 'duplicate'));
      },
      reorder(windowMs: number) {
        dispatcher.reorderWindowMs = nonNegativeInteger(windowMs, 'reorder');
      },
      reset() {
        dispatcher.dropRemaining = 0;
        dispatcher.copies = 1;
        dispatcher.reorderWindowMs = 0;
        this.delayMs = 0;
      },
    };
  }

  /** Queues `event` for delivery; returns at once. */
  enqueue(event: StripeEvent): void {
    if (this.stopped) return;
    if (this.dropRemaining > 0) {
      this.dropRemaining--;
      this.record(event, 0, { error: 'dropped by faults.dropNext' });
      this.log(`webhook ${event.id} ${event.type}: dropped (fault)`);
      return;
    }
    if (this.reorderWindowMs > 0) {
      this.batch.push(event);
      this.pending++;
      this.batchTimer ??= this.later(this.reorderWindowMs, () => this.flushBatch());
      return;
    }
    this.start(event);
  }

  /** Resolves when nothing is waiting to be delivered or being delivered. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Cancels every scheduled and in-flight delivery. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.inFlight) controller.abort();
    this.batch = [];
    this.pending = 0;
    this.settle();
  }

  private flushBatch(): void {
    const batch = this.batch.reverse();
    this.batch = [];
    this.batchTimer = undefined;
    for (const event of batch) this.start(event);
    this.finish(batch.length);
  }

  private start(event: StripeEvent): void {
    for (let copy = 0; copy < this.copies; copy++) {
      this.pending++;
      this.later(this.faults.delayMs, () => void this.attempt(event, 1));
    }
  }

  private async attempt(event: StripeEvent, attempt: number): Promise<void> {
    const url = this.options.url();
    // No endpoint configured: like a Stripe account without one, events are only listed.
    if (!url || this.stopped) return this.finish(1);
    // Stripe renders payloads with two-space indentation; receivers must verify the bytes as sent.
    const payload = JSON.stringify(event, null, 2);
    const controller = new AbortController();
    this.inFlight.add(controller);
    try {
      const response = await fetch(url, {
        method: 'POST',
        body: payload,
        headers: {
          'Content-Type': 'application/json; charset=utf-8',
          'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'Stripe-Signature': signatureHeader(payload, this.options.secret),
        },
        signal: AbortSignal.any([controller.signal, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]),
      });
      // Read the body so the connection can be reused or closed cleanly.
      await response.arrayBuffer().catch(() => undefined);
      if (this.stopped) return;
      this.record(event, attempt, { status: response.status });
      this.log(`webhook ${event.id} ${event.type} → ${response.status} (attempt ${attempt})`);
      if (response.ok) return this.finish(1);
    } catch (error) {
      if (this.stopped) return;
      const message = error instanceof Error ? error.message : String(error);
      this.record(event, attempt, { error: message });
      this.log(`webhook ${event.id} ${event.type} → error ${message} (attempt ${attempt})`);
    } finally {
      this.inFlight.delete(controller);
    }
    this.retry(event, attempt);
  }

  private retry(event: StripeEvent, failedAttempt: number): void {
    if (failedAttempt >= this.options.maxAttempts) {
      this.log(`webhook ${event.id} ${event.type}: giving up after ${failedAttempt} attempts`);
      this.finish(1);
      return;
    }
    const delay = Math.min(this.options.retryBaseMs * 2 ** (failedAttempt - 1), MAX_RETRY_DELAY_MS);
    this.later(delay, () => void this.attempt(event, failedAttempt + 1));
  }

  private later(ms: number, run: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private record(event: StripeEvent, attempt: number, outcome: { status?: number; error?: string }): void {
    this.deliveries.push({ eventId: event.id, type: event.type, attempt, ...outcome, at: Date.now() });
  }

  private finish(count: number): void {
    this.pending = Math.max(0, this.pending - count);
    this.settle();
  }

  private settle(): void {
    if (this.pending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function nonNegativeInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`faults.${name} needs a non-negative integer`);
  return value;
}
