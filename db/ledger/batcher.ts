import type { Sql } from '../pool';
import type { SystemAccounts } from './accounts';
import { debitMany, type Settled } from './debits';
import type { DebitRequest, DebitResult } from './types';

interface Waiter {
  request: DebitRequest;
  resolve: (value: DebitResult) => void;
  reject: (error: Error) => void;
}

export interface BatcherOptions {
  /** Most debits sharing one commit. */
  maxBatch: number;
  /**
   * Batches committing at the same time (one fills while another commits). One is best since a
   * batch is a single statement (no round trips to overlap): the next batch is then larger, and
   * Postgres does less per debit. Measured with 1, 2 and 4 in BENCHMARKS.md.
   */
  maxInFlight: number;
}

/**
 * Group commit for debits. Callers await their own result; meanwhile every debit that arrives
 * while a commit is running joins the next batch, so one fsync pays for many debits.
 * Under no load a debit commits alone at once: there is no timer and no added latency.
 */
export class DebitBatcher {
  private queue: Waiter[] = [];
  private inFlight = 0;

  constructor(
    private readonly sql: Sql,
    private readonly system: SystemAccounts,
    private readonly options: BatcherOptions = { maxBatch: 256, maxInFlight: 1 },
  ) {}

  submit(request: DebitRequest): Promise<DebitResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.commit(batch).then((settled) => {
        // The next batch leaves for Postgres before these answers are handed out, so the
        // callers' own work (answering their requests) overlaps the next commit.
        this.inFlight--;
        this.pump();
        settled.forEach((s, i) => {
          const waiter = batch[i]!;
          if (s.ok) waiter.resolve(s.value);
          else waiter.reject(s.error);
        });
      });
    }
  }

  /** Never rejects: each debit's outcome is in its own Settled. */
  private async commit(batch: Waiter[]): Promise<Settled<DebitResult>[]> {
    try {
      return await debitMany(
        this.sql,
        this.system,
        batch.map((w) => w.request),
      );
    } catch {
      // The shared transaction failed as a whole (not one request's domain error):
      // give each debit its own transaction so one bad request cannot fail its neighbours.
      return Promise.all(batch.map((w) => this.alone(w.request)));
    }
  }

  private async alone(request: DebitRequest): Promise<Settled<DebitResult>> {
    try {
      const [only] = await debitMany(this.sql, this.system, [request]);
      return only!;
    } catch (error) {
      return { ok: false, error: error as Error };
    }
  }
}
