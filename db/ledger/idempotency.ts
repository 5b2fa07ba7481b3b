import { createHash } from 'node:crypto';
import { IdempotencyConflict } from '../../domain';
import type { Tx } from '../pool';
import { assertId } from './validate';

export interface StoredOperation {
  idempotency_key: string;
  request_hash: string;
  result: unknown;
}

/** Hash of the request's meaningful fields, in a fixed order. */
export function requestHash(kind: string, fields: Record<string, unknown>): string {
  const canonical = JSON.stringify([
    kind,
    Object.keys(fields)
      .sort()
      .map((k) => [k, fields[k] ?? null]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * The fields that are set. For fields added to a request after records were stored: left out
 * when absent, an old request still hashes as it did, so its replay is not a conflict.
 */
export function presentOnly(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
}

export function assertKey(key: string): void {
  assertId('idempotencyKey', key, 255);
}

export async function findOperations(tx: Tx, keys: string[]): Promise<Map<string, StoredOperation>> {
  if (keys.length === 0) return new Map();
  const rows = await tx<StoredOperation[]>`
    SELECT idempotency_key, request_hash, result FROM ledger_operations
    WHERE idempotency_key = ANY(${keys}::text[])`;
  return new Map(rows.map((r) => [r.idempotency_key, r]));
}

/** The original result for a replay; a conflict when the key was used for another request. */
export function replayOrConflict<T>(stored: StoredOperation, hash: string): T {
  if (stored.request_hash !== hash) throw new IdempotencyConflict(stored.idempotency_key);
  return stored.result as T;
}

export async function recordOperations(
  tx: Tx,
  ops: { key: string; kind: string; hash: string; result: unknown; reverses?: string | undefined }[],
): Promise<void> {
  if (ops.length === 0) return;
  await tx`
    INSERT INTO ledger_operations (idempotency_key, kind, request_hash, result, reverses)
    SELECT key, kind, hash, result::jsonb, reverses FROM unnest(
      ${ops.map((o) => o.key)}::text[], ${ops.map((o) => o.kind)}::text[],
      ${ops.map((o) => o.hash)}::text[], ${ops.map((o) => JSON.stringify(o.result))}::text[],
      ${ops.map((o) => o.reverses ?? null)}::text[]
    ) AS op(key, kind, hash, result, reverses)`;
}
