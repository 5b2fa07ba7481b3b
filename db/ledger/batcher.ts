import { oneConnectionPool, type Sql } from '../pool';
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
   * Batches sent and not yet answered. They share one connection, so Postgres runs them one
   * after the other: with two, the next batch is already waiting in Postgres when the previous
   * one commits, instead of waiting for this process's event loop (busy with HTTP) to read the
   * answer and send it. Measured with 1, 2 and 3 in BENCHMARKS.md.
   */
  maxInFlight: number;
}

/** How long the batches' connection stays open without a debit. */
const IDLE_SECONDS = 30;
/** The longest close() waits for the batches in flight. */
const CLOSE_SECONDS = 5;
/** The batches' connection's name in pg_stat_activity. */
export const BATCHES_APPLICATION_NAME = 'credits-debit-batches';

/**
 * Group commit for debits. Callers await their own result; meanwhile every debit that arrives
 * while a commit is running joins the next batch, so one fsync pays for many debits.
 * Under no load a debit commits alone at once: there is no timer and no added latency.
 */
export class DebitBatcher {
  private queue: Waiter[] = [];
  private inFlight = 0;
  /**
   * The batches' own connection, opened at the first debit and closed after a while without any.
   * One connection on purpose: on two, batches in flight would run side by side and wait for
   * each other's row locks (every debit also credits the same system account).
   */
  private connection: Sql | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly system: SystemAccounts,
    private readonly options: BatcherOptions = { maxBatch: 256, maxInFlight: 2 },
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
    this.connection ??= oneConnectionPool(this.sql, BATCHES_APPLICATION_NAME, IDLE_SECONDS);
    try {
      return await debitMany(
        this.connection,
        this.system,
        batch.map((w) => w.request),
      );
    } catch {
      // The shared transaction failed as a whole (not one request's domain error), or its
      // connection did: give each debit its own transaction on the pool, so one bad request
      // cannot fail its neighbours. One after the other: this is the rare path, and hundreds of
      // queries at once would queue everyone else's behind them.
      const settled: Settled<DebitResult>[] = [];
      for (const waiter of batch) settled.push(await this.alone(waiter.request));
      return settled;
    }
  }

  /**
   * Closes the batches' connection after the batches in flight, waiting at most CLOSE_SECONDS:
   * after its backend was terminated mid-batch, postgres.js may never finish ending it.
   */
  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    await connection?.end({ timeout: CLOSE_SECONDS });
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
