import { createHash } from 'node:crypto';

/**
 * A UUID derived from a business key (an Idempotency-Key, a project and task), so a retry
 * names the same row, hold or workflow instead of making a second one.
 */
export function uuidFromSeed(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
