import { CAUSE_TYPES, ValidationError } from '../../domain';
import type { Attribution, Share } from './types';

/**
 * Checks that what a write stores can be stored, before it joins a group-commit batch: one
 * request Postgres refuses would fail its whole batch. Text columns cannot hold NUL, and a lone
 * surrogate (half of a UTF-16 pair) has no UTF-8 form: Postgres refuses both in JSON and would
 * silently replace the second in text.
 */
const LONE_SURROGATE = /\p{Cs}/u;
/** In JSON.stringify's output: an escaped NUL or lone surrogate (after an even run of backslashes). */
const UNSTORABLE_IN_JSON = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
/** Ids and keys: visible text, no control characters. */
const CONTROL = /\p{Cc}/u;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function unstorable(value: string): boolean {
  return value.includes('\u0000') || LONE_SURROGATE.test(value);
}

export function assertUuid(field: string, value: unknown): void {
  if (typeof value !== 'string' || !UUID.test(value)) throw new ValidationError(field, 'must be a UUID');
}

/** Free text (kinds, descriptions): storable, at most `max` characters. */
export function assertText(field: string, value: unknown, max: number): void {
  if (typeof value !== 'string' || value.length > max || unstorable(value))
    throw new ValidationError(
      field,
      `must be text of at most ${max} characters, without NUL or lone surrogates`,
    );
}

/** An id or key: 1 to `max` characters, not blank, no control characters, storable. */
export function assertId(field: string, value: unknown, max: number): void {
  if (
    typeof value !== 'string' ||
    value.length < 1 ||
    value.length > max ||
    value.trim() === '' ||
    CONTROL.test(value) ||
    unstorable(value)
  ) {
    throw new ValidationError(field, `must be 1 to ${max} visible characters`);
  }
}

/** The JSON a write stores as its memo: nothing Postgres's jsonb refuses. */
export function assertStorableJson(field: string, json: string): void {
  if (UNSTORABLE_IN_JSON.test(json))
    throw new ValidationError(field, 'must not contain NUL or lone surrogates');
}

/** Agent and cause, within the transfers table's CHECKs (migration 010). */
export function assertAttribution(request: Attribution): void {
  if (request.agentId !== undefined) assertId('agentId', request.agentId, 200);
  if (request.cause !== undefined) {
    if (!CAUSE_TYPES.includes(request.cause.type))
      throw new ValidationError('cause.type', `must be one of ${CAUSE_TYPES.join(', ')}`);
    assertId('cause.id', request.cause.id, 255);
  }
}

/** A share of a charge: to a user, a whole number of credits not above the charge, a clearing period Postgres can store. */
export function assertShare(share: Share, charged: number): void {
  assertUuid('share.userId', share.userId);
  if (!Number.isSafeInteger(share.amount) || share.amount < 1 || share.amount > charged)
    throw new ValidationError('share.amount', 'must be a whole number of credits from 1 to the charge');
  if (!Number.isInteger(share.clearSeconds) || share.clearSeconds < 0 || share.clearSeconds > 2 ** 31 - 1)
    throw new ValidationError('share.clearSeconds', 'must be a whole number of seconds, zero or more');
}
