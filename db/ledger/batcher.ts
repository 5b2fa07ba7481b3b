import { closePool, oneConnectionPool, type Sql } from '../pool';
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

/** The longest close() waits for the batches in flight to settle. */
const DRAIN_MS = 5000;
/** Batchers made by this process: each one's connection gets its own name. */
let batchers = 0;

/**
 * Group commit for debits. Callers await their own result; meanwhile every debit that arrives
 * while a commit is running joins the next batch, so one fsync pays for many debits.
 * Under no load a debit commits alone at once: there is no timer.
 */
export class DebitBatcher {
  private queue: Waiter[] = [];
  private inFlight = 0;
  /**
   * The batches' own connection (a pool of one, opened at the first debit, ended by close()).
   * One connection on purpose: on two, batches in flight would run side by side and wait for
   * each other's row locks (every debit also credits the same system account).
   */
  private readonly connection: Sql;
  /** Its application_name in pg_stat_activity: `credits-debit-batches:<pid>:<n>`. */
  readonly connectionName = `credits-debit-batches:${process.pid}:${++batchers}`;
  private closing: Promise<void> | null = null;
  /** Called when the last batch in flight has settled (close() waits for it). */
  private drained: (() => void) | null = null;

  constructor(
    private readonly sql: Sql,
    private readonly system: SystemAccounts,
    private readonly options: BatcherOptions = { maxBatch: 256, maxInFlight: 2 },
  ) {
    this.connection = oneConnectionPool(sql, this.connectionName);
  }

  submit(request: DebitRequest): Promise<DebitResult> {
    if (this.closing) return Promise.reject(new Error('ledger: closed, no more debits'));
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
        if (this.inFlight === 0) this.drained?.();
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
    const requests = batch.map((w) => w.request);
    try {
      // The whole batch credits one shard (its own): one system row updated per batch.
      return await debitMany(this.connection, this.system, requests, this.connectionName);
    } catch {
      // The shared statement failed as a whole (a request Postgres refused though it passed
      // validation, or the connection died): find the culprit without giving up group commit.
      return this.isolate(requests);
    }
  }

  /**
   * Splits a batch that failed as a whole in halves and commits each on the pool, splitting again
   * only the half that fails, until a failing debit is alone: the others still share commits
   * (about 2·log2(n) transactions for one bad debit among n, not n), so one bad request cannot
   * halve everyone's throughput. Halves run in order, so each user's debits keep arrival order.
   * The pool, not the batches' connection (that one may be what failed), and each user's own
   * shard, so the retries do not queue behind the next batch on its shard.
   */
  private async isolate(requests: DebitRequest[]): Promise<Settled<DebitResult>[]> {
    if (requests.length === 1) return [await this.alone(requests[0]!)];
    const middle = Math.ceil(requests.length / 2);
    const settled: Settled<DebitResult>[] = [];
    for (const half of [requests.slice(0, middle), requests.slice(middle)]) {
      try {
        settled.push(...(await debitMany(this.sql, this.system, half)));
      } catch (error) {
        // Postgres unreachable is no request's fault: halving would only repeat the wait.
        if (isConnectionError(error))
          settled.push(...half.map(() => ({ ok: false as const, error: error as Error })));
        else settled.push(...(await this.isolate(half)));
      }
    }
    return settled;
  }

  /**
   * Refuses new debits, waits (at most DRAIN_MS) for the batches in flight, then ends the
   * batches' connection (bounded too: in a test that terminated its backend mid-batch, the end
   * sometimes never came). A batch still running then fails with the connection, as in a crash.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.inFlight > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => (this.drained = resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_MS))),
        ]);
        clearTimeout(timer);
      }
      await closePool(this.connection);
    })();
    return this.closing;
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

/** Postgres errors that say the connection, not the statement, failed (postgres.js codes, SQLSTATE 08 and 57P0x). */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('08') ||
    /^57P0[1-3]$/.test(code) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'CONNECT_TIMEOUT'].includes(code) ||
    code.startsWith('CONNECTION_')
  );
}
