import { StripeApiError } from './errors';
import type { FormValue } from './form';

/**
 * Stripe's idempotent requests: the first response to a key is stored; the same key with the
 * same endpoint and parameters replays it (`Idempotent-Replayed: true`); the same key with
 * anything else is a 400 `idempotency_error`. As on Stripe, only requests that ran are stored:
 * a request refused by validation can be retried with the same key once it is fixed.
 */
export interface StoredResponse {
  status: number;
  body: unknown;
}

interface Entry extends StoredResponse {
  endpoint: string;
  fingerprint: string;
  storedAt: number;
}

// Stripe forgets keys after 24 hours; so does the stand-in, which also bounds its memory (the SDK
// sends a fresh key with every POST).
const KEY_LIFETIME_MS = 24 * 60 * 60 * 1000;

export class IdempotencyCache {
  private readonly entries = new Map<string, Entry>();

  /** The stored response for `key`, undefined when the key is new, or a 400 for a conflict. */
  replay(key: string, endpoint: string, params: FormValue): StoredResponse | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() - entry.storedAt >= KEY_LIFETIME_MS) {
      this.entries.delete(key);
      return undefined;
    }
    if (entry.endpoint !== endpoint) {
      throw new StripeApiError(
        400,
        'idempotency_error',
        `Keys for idempotent requests can only be used for the same endpoint they were first used for ` +
          `('${entry.endpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to ` +
          'execute a different request.',
      );
    }
    if (entry.fingerprint !== fingerprint(params)) {
      throw new StripeApiError(
        400,
        'idempotency_error',
        'Keys for idempotent requests can only be used with the same parameters they were first used with. ' +
          `Try using a key other than '${key}' if you meant to execute a different request.`,
      );
    }
    return { status: entry.status, body: entry.body };
  }

  store(key: string, endpoint: string, params: FormValue, response: StoredResponse): void {
    // A snapshot: the live object changes later (a session gets paid), the replay must not.
    const body: unknown = structuredClone(response.body);
    const storedAt = Date.now();
    this.entries.set(key, {
      endpoint,
      fingerprint: fingerprint(params),
      status: response.status,
      body,
      storedAt,
    });
    // A Map iterates in insertion order, so the stale entries are at the front.
    for (const [oldKey, entry] of this.entries) {
      if (storedAt - entry.storedAt < KEY_LIFETIME_MS) break;
      this.entries.delete(oldKey);
    }
  }
}

/** Parameter order on the wire does not matter to Stripe, so keys are sorted before comparing. */
function fingerprint(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(fingerprint).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${fingerprint(value[k]!)}`).join(',')}}`;
}
