import type { Sql } from '../pool';
import { SystemAccounts } from './accounts';
import { DebitBatcher } from './batcher';
import { credit } from './credits';
import { debitMany, validateDebit } from './debits';
import { hold, postHold, sweepExpiredHolds, voidHold } from './holds';
import { postOperation } from './operations';
import { checkConservation, getBalance, listTransfers, pendingHoldIds } from './reads';
import { reverse } from './reversals';
import type {
  CreditRequest,
  CreditResult,
  DebitRequest,
  DebitResult,
  HoldRequest,
  HoldResult,
  LedgerObserver,
  PostHoldRequest,
  PostHoldResult,
  PostRequest,
  PostResult,
  ReleaseWithholdingRequest,
  ReverseRequest,
  ReverseResult,
  VoidHoldRequest,
  VoidHoldResult,
  WithholdRequest,
  WithholdResult,
} from './types';
import { releaseWithholding, withhold } from './withholdings';

export { createUserAccounts } from './accounts';
export { requestHash } from './idempotency';
export type { BucketBalance, ConservationReport } from './reads';
export type * from './types';

/**
 * The only code that writes balances. Every write takes an idempotency key: the same key and
 * request return the original result, the same key with another request is IdempotencyConflict.
 */
export class Ledger {
  private readonly batcher: DebitBatcher;

  private constructor(
    private readonly sql: Sql,
    private readonly system: SystemAccounts,
    private readonly observer?: LedgerObserver,
  ) {
    this.batcher = new DebitBatcher(sql, system);
  }

  static async open(sql: Sql, observer?: LedgerObserver): Promise<Ledger> {
    const system = new SystemAccounts();
    await system.load(sql);
    return new Ledger(sql, system, observer);
  }

  /** The application_name of the group commit's own connection, as pg_stat_activity shows it. */
  get batchConnectionName(): string {
    return this.batcher.connectionName;
  }

  /** Refuses new debits and closes the group commit's own connection; the pool is the caller's to end. */
  close(): Promise<void> {
    return this.batcher.close();
  }

  /** The fast path: the debit shares a commit with whatever other debits are in flight. */
  async debit(request: DebitRequest): Promise<DebitResult> {
    validateDebit(request);
    return this.observed(request.kind, await this.batcher.submit(request));
  }

  /** The plain path: one transaction for this debit alone (the benchmark's baseline). */
  async debitAlone(request: DebitRequest): Promise<DebitResult> {
    validateDebit(request);
    const [only] = await debitMany(this.sql, this.system, [request]);
    if (!only!.ok) throw only!.error;
    return this.observed(request.kind, only!.value);
  }

  async credit(request: CreditRequest): Promise<CreditResult> {
    return this.observed(request.kind, await credit(this.sql, this.system, request));
  }

  /** Any number of legs under one key, all or nothing (see operations.ts). */
  async post(request: PostRequest): Promise<PostResult> {
    return this.observed(request.kind, await postOperation(this.sql, this.system, request));
  }

  /** Mirrors every transfer of an earlier operation, once. */
  async reverse(request: ReverseRequest): Promise<ReverseResult> {
    return this.observed(request.kind, await reverse(this.sql, request));
  }

  /** Keeps credits of a withdrawable bucket from being cashed out (they stay spendable). */
  async withhold(request: WithholdRequest): Promise<WithholdResult> {
    return withhold(this.sql, request);
  }

  /** Gives an earlier withholding back, once; null when there is no such withholding. */
  async releaseWithholding(request: ReleaseWithholdingRequest): Promise<WithholdResult | null> {
    return releaseWithholding(this.sql, request);
  }

  async hold(request: HoldRequest): Promise<HoldResult> {
    return hold(this.sql, this.system, request);
  }

  async postHold(request: PostHoldRequest): Promise<PostHoldResult> {
    const result = await postHold(this.sql, request);
    this.observer?.transfersCommitted('hold-post', 1, result.posted);
    return result;
  }

  async voidHold(request: VoidHoldRequest): Promise<VoidHoldResult> {
    return voidHold(this.sql, request);
  }

  sweepExpiredHolds(): Promise<number> {
    return sweepExpiredHolds(this.sql);
  }

  /** Of these holds, the ones still pending. */
  pendingHolds(holdIds: string[]): Promise<string[]> {
    return pendingHoldIds(this.sql, holdIds);
  }

  balance(userId: string) {
    return getBalance(this.sql, userId);
  }

  transfers(userId: string, options: { limit: number; before?: number }) {
    return listTransfers(this.sql, userId, options);
  }

  conservation() {
    return checkConservation(this.sql);
  }

  private observed<T extends { amount: number }>(kind: string, result: T): T {
    this.observer?.transfersCommitted(kind, 1, result.amount);
    return result;
  }
}
