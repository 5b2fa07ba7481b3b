import type { Bucket, CauseType, SystemAccount } from '../../domain';

/** What caused a movement, stored on its transfers (a purchase, a project task, a usage event...). */
export interface Cause {
  type: CauseType;
  id: string;
}

/**
 * What every movement may say about itself, stored as columns on its transfers. A record, not a
 * parameter: it is not part of a debit's, credit's or hold's idempotent request.
 */
export interface Attribution {
  /** The agent whose use this pays for. */
  agentId?: string | undefined;
  cause?: Cause | undefined;
}

/**
 * A part of a charge paid on to another user's earned bucket in the same operation (a creator's
 * share of a charge for their agent), clearing after `clearSeconds`.
 */
export interface Share {
  userId: string;
  amount: number;
  clearSeconds: number;
}

/** Take credits from a user (spending order across buckets) to a system account, at once. */
export interface DebitRequest extends Attribution {
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
  /** Paid out of the charge to another user's earned bucket, in the same operation. */
  share?: Share | undefined;
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
export interface CreditRequest extends Attribution {
  idempotencyKey: string;
  userId: string;
  amount: number;
  kind: string;
  from: SystemAccount;
  bucket?: Bucket;
  description?: string;
  /** Credits into a withdrawable bucket become withdrawable after this many seconds (default: at once). */
  clearSeconds?: number;
}

export interface CreditResult {
  amount: number;
  availableAfter: number;
}

/** Keeps `amount` credits of a user's withdrawable bucket from being cashed out until released (see withholdings.ts). */
export interface WithholdRequest {
  idempotencyKey: string;
  userId: string;
  amount: number;
  /** What the withholding is for, lower case words: `referral_shortfall`. */
  kind: string;
  bucket: Bucket;
  cause?: Cause;
}

export interface WithholdResult {
  /** Withheld by this operation (negative: released). */
  amount: number;
  /** Everything withheld from the bucket now, this included. */
  withheldTotal: number;
}

/** Gives back what the withholding `withholdingKey` withheld. */
export interface ReleaseWithholdingRequest {
  idempotencyKey: string;
  withholdingKey: string;
  cause?: Cause;
}

export interface HoldRequest extends Attribution {
  idempotencyKey: string;
  holdId: string;
  userId: string;
  amount: number;
  kind: string;
  /** Where the posted part goes; defaults to `usage`. */
  to?: SystemAccount;
  expiresInSeconds: number;
  description?: string;
  /** Hold from this bucket only (a withdrawal holds earned credits); default: spending order. */
  bucket?: Bucket;
  /**
   * Hold only withdrawable credits (cleared and unheld): checked under the account's lock, so
   * withdrawals racing each other never hold more than is withdrawable. Needs a withdrawable `bucket`.
   */
  withdrawableOnly?: boolean;
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
  /** Paid out of the posted amount to another user's earned bucket, in the same operation. */
  share?: Share | undefined;
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

/** Undo an earlier operation: every one of its transfers is mirrored, in one operation, once. */
export interface ReverseRequest {
  idempotencyKey: string;
  /** The idempotency key of the operation to reverse. */
  operationKey: string;
  kind: string;
  description?: string;
  /**
   * Take back out of withdrawable (earned) accounts only what each still has available (a
   * creator's share already spent or held for a withdrawal): those legs are capped, and what
   * could not be taken back is the result's `shortfall`, withheld from the mirrors that pay out of
   * the system account it should have returned to (the payer's refund), so a reversal never pays
   * out more than it takes back. Every other leg is mirrored in full. Without it the reversal is
   * all or nothing (InsufficientCredits when an account cannot give back).
   */
  capWithdrawable?: boolean;
}

/** One transfer of the reversed operation, as its reversal mirrored it (results of capped reversals). */
export interface ReversedLeg {
  /** The original transfer's kind (`usage:rag`, `creator_share`...). */
  kind: string;
  /** What the original transfer moved. */
  amount: number;
  /** What its mirror moved back: `amount`, or less when capped. */
  reversed: number;
  /** The user whose account the mirror took credits from (null: a system account). */
  fromUserId: string | null;
  /** The user whose account the mirror gave credits to (null: a system account). */
  toUserId: string | null;
}

export interface ReverseResult {
  operationKey: string;
  /** Credits that went back, summed over the mirrored transfers. */
  amount: number;
  transfers: number;
  /** With `capWithdrawable`: what the capped legs could not take back (0 when nothing was short). */
  shortfall?: number;
  /** With `capWithdrawable`: every original transfer and what its mirror moved, in order. */
  legs?: ReversedLeg[];
}

/** An account named by what it is: a user's bucket or a system account. */
export type AccountRef = { userId: string; bucket: Bucket } | { system: SystemAccount };

/** One generic operation: any number of legs, all or nothing, under one idempotency key. */
export interface PostRequest extends Attribution {
  idempotencyKey: string;
  kind: string;
  description?: string;
  legs: { from: AccountRef; to: AccountRef; amount: number; clearSeconds?: number }[];
}

export interface PostResult {
  amount: number;
  legs: number;
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
