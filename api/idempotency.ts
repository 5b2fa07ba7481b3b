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
