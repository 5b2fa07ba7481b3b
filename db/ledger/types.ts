import type { Bucket, SystemAccount } from '../../domain';

/** Take credits from a user (spending order across buckets) to a system account, at once. */
export interface DebitRequest {
  idempotencyKey: string;
  userId: string;
  amount: number;
  kind: string;
  description?: string;
  /** Defaults to `usage`. */
  to?: SystemAccount;
  /**
   * When set, this identifies the request for idempotency instead of its fields: for callers
   * whose amount is derived (a price from a rate card that may change between a call and its replay).
   */
  fingerprint?: string;
  /** Stored with the result and returned on a replay (e.g. the price breakdown). */
  memo?: Record<string, unknown>;
}

export interface DebitResult {
  amount: number;
  memo?: Record<string, unknown>;
  /** True when this is the stored result of an earlier call with the same key. */
  replayed?: boolean;
  /** The user's available balance right after this debit. */
  availableAfter: number;
  legs: { bucket: Bucket; amount: number }[];
}

/** Give credits to a user's bucket from a system account. */
export interface CreditRequest {
  idempotencyKey: string;
  userId: string;
  amount: number;
  kind: string;
  from: SystemAccount;
  bucket?: Bucket;
  description?: string;
}

export interface CreditResult {
  amount: number;
  availableAfter: number;
}

export interface HoldRequest {
  idempotencyKey: string;
  holdId: string;
  userId: string;
  amount: number;
  kind: string;
  /** Where the posted part goes; defaults to `usage`. */
  to?: SystemAccount;
  expiresInSeconds: number;
  description?: string;
}

export interface HoldResult {
  holdId: string;
  amount: number;
  expiresAt: string;
}

export interface PostHoldRequest {
  idempotencyKey: string;
  holdId: string;
  /** At most the held amount; the rest is released. */
  amount: number;
}

export interface PostHoldResult {
  holdId: string;
  posted: number;
  released: number;
}

export interface VoidHoldRequest {
  idempotencyKey: string;
  holdId: string;
}

export interface VoidHoldResult {
  holdId: string;
  released: number;
}

export interface TransferView {
  id: number;
  /** Signed from the user's point of view: positive adds credits. */
  amount: number;
  bucket: Bucket;
  kind: string;
  description: string | null;
  createdAt: string;
}

/** Optional observer so the API can count transfers in /metrics without the ledger knowing Prometheus. */
export interface LedgerObserver {
  transfersCommitted(kind: string, count: number, credits: number): void;
}
