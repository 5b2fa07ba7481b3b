/**
 * Stripe's request encoding: `application/x-www-form-urlencoded` with bracket notation
 * (`line_items[0][price_data][currency]=usd`, `metadata[purchaseId]=p_1`, `expand[]=x`).
 *
 * The parser is lossless about keys: `a[0]` becomes `{ a: { '0': ... } }`, not an array,
 * because only the schema knows whether `metadata[0]` is a list index or a metadata key.
 * `schemas.ts` turns index-keyed objects into arrays where a list is expected. `a[]=x`
 * (no index) is unambiguous and becomes an array directly.
 */

export type FormValue = string | FormValue[] | FormObject;
export interface FormObject {
  [key: string]: FormValue;
}

export class FormEncodingError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
    this.name = 'FormEncodingError';
  }
}

// Bounds keep a hostile or buggy client from building huge or deep structures.
const MAX_PAIRS = 2000;
const MAX_DEPTH = 8;
// These would reach Object.prototype through plain-object assignment.
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'prototype', 'constructor']);

/** Parses a form-encoded string (a request body or a URL query without `?`). */
export function parseForm(encoded: string): FormObject {
  const root: FormObject = {};
  if (encoded.trim() === '') return root;
  const pairs = encoded.split('&');
  if (pairs.length > MAX_PAIRS) throw new FormEncodingError(`Too many parameters (max ${MAX_PAIRS}).`, '');
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = eq === -1 ? pair : pair.slice(0, eq);
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1);
    const key = decode(rawKey);
    assign(root, key, splitKey(key), decode(rawValue));
  }
  return root;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    throw new FormEncodingError(`Invalid percent-encoding in '${part}'.`, '');
  }
}

/** `a[b][0][]` → ['a', 'b', '0', ''] — an empty segment means "append". */
function splitKey(key: string): string[] {
  const open = key.indexOf('[');
  if (open === -1) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const pattern = /\[([^[\]]*)\]/g;
  let consumed = 0;
  for (let match = pattern.exec(rest); match; match = pattern.exec(rest)) {
    if (match.index !== consumed) break;
    segments.push(match[1] ?? '');
    consumed = pattern.lastIndex;
  }
  if (consumed !== rest.length) throw new FormEncodingError(`Invalid parameter name '${key}'.`, key);
  return segments;
}

function assign(root: FormObject, key: string, segments: string[], value: string): void {
  if (segments.length > MAX_DEPTH)
    throw new FormEncodingError(`Parameter '${key}' is nested too deeply.`, key);
  if (segments[0] === '') throw new FormEncodingError(`Invalid parameter name '${key}'.`, key);
  let container: FormObject | FormValue[] = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (FORBIDDEN_SEGMENTS.has(segment)) throw new FormEncodingError(`Invalid parameter name '${key}'.`, key);
    const last = i === segments.length - 1;
    const nextIsAppend = !last && segments[i + 1] === '';
    if (Array.isArray(container)) {
      // Only `[]` reaches an array; nested structure below an append is not something Stripe's
      // clients produce, so it is refused rather than guessed at.
      if (segment !== '' || !last) throw new FormEncodingError(`Invalid parameter name '${key}'.`, key);
      container.push(value);
      return;
    }
    if (segment === '') throw new FormEncodingError(`Invalid parameter name '${key}'.`, key);
    if (last) {
      const existing = container[segment];
      if (existing !== undefined && typeof existing !== 'string') {
        throw new FormEncodingError(`Parameter '${key}' is given both as a value and as a hash.`, key);
      }
      // A repeated scalar key: the last one wins, as in Stripe's own parser.
      container[segment] = value;
      return;
    }
    const existing: FormValue | undefined = container[segment];
    if (existing === undefined) {
      const created: FormObject | FormValue[] = nextIsAppend ? [] : {};
      container[segment] = created;
      container = created;
    } else if (typeof existing === 'string' || Array.isArray(existing) !== nextIsAppend) {
      throw new FormEncodingError(
        `Parameter '${key}' conflicts with another parameter of the same name.`,
        key,
      );
    } else {
      container = existing;
    }
  }
}
