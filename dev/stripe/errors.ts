/**
 * Errors in Stripe's wire shape, `{ error: { type, message, param?, code? } }`. The SDK picks the
 * error class from the HTTP status and `type` (400/404 + `idempotency_error` →
 * StripeIdempotencyError, 401 → StripeAuthenticationError, …), so both must match Stripe.
 */
export type StripeErrorType = 'invalid_request_error' | 'idempotency_error' | 'api_error' | 'card_error';

export interface StripeErrorBody {
  error: {
    type: StripeErrorType;
    message: string;
    param?: string;
    code?: string;
    /** Card errors: the bank's reason, and the payment intent as it stands after the failure. */
    decline_code?: string;
    payment_intent?: unknown;
  };
}

export class StripeApiError extends Error {
  /**
   * Stripe stores the answer to an idempotent request once it began executing, errors included,
   * and replays it for the same key; only requests refused before that (validation) are not
   * stored. Most of the stand-in's errors are of that second kind; an error that stands for a
   * request that ran and failed (a transfer refused for lack of balance) sets this.
   */
  replayedForSameKey = false;
  /** Card errors only (402): the decline code and the payment intent the error is about. */
  declineCode: string | undefined;
  paymentIntent: unknown;

  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly param?: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'StripeApiError';
  }

  toBody(): StripeErrorBody {
    return {
      error: {
        type: this.type,
        message: this.message,
        ...(this.param !== undefined ? { param: this.param } : {}),
        ...(this.code !== undefined ? { code: this.code } : {}),
        ...(this.declineCode !== undefined ? { decline_code: this.declineCode } : {}),
        ...(this.paymentIntent !== undefined ? { payment_intent: this.paymentIntent } : {}),
      },
    };
  }
}

export function invalidRequest(message: string, param?: string, code?: string): StripeApiError {
  return new StripeApiError(400, 'invalid_request_error', message, param, code);
}

/** A missing object named in the URL is a 404; one named in a body parameter is a 400. */
export function noSuch(kind: string, id: string, param: string, status: 400 | 404 = 404): StripeApiError {
  return new StripeApiError(
    status,
    'invalid_request_error',
    `No such ${kind}: '${id}'`,
    param,
    'resource_missing',
  );
}

/**
 * A card that failed to pay (402 `card_error`, which the SDK raises as StripeCardError), carrying
 * the payment intent as it stands after the failure. The request ran, so Stripe replays the
 * same error for the same Idempotency-Key: a retried charge never charges again.
 */
export function cardError(
  message: string,
  code: string,
  paymentIntent: unknown,
  declineCode?: string,
): StripeApiError {
  const error = new StripeApiError(402, 'card_error', message, undefined, code);
  error.declineCode = declineCode;
  error.paymentIntent = paymentIntent;
  error.replayedForSameKey = true;
  return error;
}
