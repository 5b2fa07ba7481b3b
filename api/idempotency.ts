import type { Request } from 'express';
import { ValidationError } from '../domain';

/** The optional `Idempotency-Key` header of money-moving POSTs, checked for shape. */
export function idempotencyKey(req: Request): string | undefined {
  const value = req.header('idempotency-key');
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,200}$/.test(value)) {
    throw new ValidationError('Idempotency-Key', 'must be 1 to 200 visible ASCII characters');
  }
  return value;
}

/**
 * Stripe's answer header on a retried request that returns the stored result of the first one
 * (same Idempotency-Key, or the same usage eventId): 200, and this says it moved nothing new.
 */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** The headers of an answer: the replay header when it is a replay, else none. */
export function replayHeaders(replayed: boolean): Record<string, string> {
  return replayed ? { [REPLAYED_HEADER]: 'true' } : {};
}
