/**
 * Domain errors with a stable `code`. The API maps codes to HTTP statuses in one place;
 * workflows see them as non-retryable ApplicationFailure types (the class name).
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  readonly code = 'validation_error';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export class InsufficientCredits extends DomainError {
  readonly code = 'insufficient_credits';
  constructor(
    readonly needed: number,
    readonly available: number,
    what = 'this',
  ) {
    super(
      `insufficient credits: ${what} costs ${needed} credits, the available balance is ${available} credits`,
    );
  }
}

/** A withdrawal asked for more than the cleared, unheld earned credits (DESIGN.md §11). */
export class InsufficientWithdrawable extends DomainError {
  readonly code = 'insufficient_withdrawable';
  constructor(
    readonly needed: number,
    readonly withdrawable: number,
  ) {
    super(
      `insufficient withdrawable credits: the withdrawal is ${needed} credits, ${withdrawable} credits are withdrawable now (earned credits clear after a period)`,
    );
  }
}

export class IdempotencyConflict extends DomainError {
  readonly code = 'idempotency_conflict';
  constructor(readonly key: string) {
    super(`idempotency key ${key} was already used for a different request`);
  }
}

export class NotFound extends DomainError {
  readonly code = 'not_found';
}

export class Conflict extends DomainError {
  readonly code = 'conflict';
}

export class Unauthorized extends DomainError {
  readonly code = 'unauthorized';
}

export class Forbidden extends DomainError {
  readonly code = 'forbidden';
}

/** A hold that is no longer pending (already posted, voided or expired). */
export class HoldNotPending extends DomainError {
  readonly code = 'hold_not_pending';
  constructor(
    readonly holdId: string,
    readonly status: string,
  ) {
    super(`hold ${holdId} is ${status}, not pending`);
  }
}

/** A withdrawal needs a Stripe Connect account that can receive payouts (DESIGN.md §11). */
export class PayoutAccountRequired extends DomainError {
  readonly code = 'payout_account_required';
}

/** Class names that a workflow must never retry. */
export const NON_RETRYABLE_ERRORS = [
  'ValidationError',
  'InsufficientCredits',
  'IdempotencyConflict',
  'NotFound',
  'Conflict',
  'HoldNotPending',
];
