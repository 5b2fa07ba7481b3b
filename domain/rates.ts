/**
 * Types of the rate card (DESIGN.md §7). The rate card itself is data in Postgres, versioned;
 * these types are shared so workflows can price work deterministically.
 */
export const FEATURES = ['conversation', 'continuation', 'rag', 'upskilling'] as const;
export type Feature = (typeof FEATURES)[number];

export const TASK_SIZES = ['small', 'medium', 'large'] as const;
export type TaskSize = (typeof TASK_SIZES)[number];

/**
 * `record[key]` when `key` is the record's own property, else undefined. Rate cards are plain
 * objects keyed by names that clients and operators choose (models, sizes): a plain lookup of
 * `constructor`, `toString` or `__proto__` would find Object.prototype's members instead of
 * "unknown", and price with a function.
 */
export function ownEntry<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export interface MessageRates {
  baseCredits: number;
  per1kInputTokens: number;
  per1kOutputTokens: number;
}

export interface RateCardBody {
  conversation: MessageRates;
  continuation: MessageRates;
  rag: { surchargeCredits: number };
  upskilling: { perTrainingUnit: number };
  projectPlanning: { credits: number };
  projectTask: Record<TaskSize, number>;
  /** The agent creator's share of a charge for their agent, in basis points (rounded down). */
  creatorShareBp: number;
  /** Multipliers in basis points (10,000 = 1x) so pricing stays in integers. */
  models: { default: string; multipliersBp: Record<string, number> };
}

export interface RateCard extends RateCardBody {
  version: number;
}
