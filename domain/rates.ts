/**
 * Types of the rate card (DESIGN.md §7). The rate card itself is data (issue 4);
 * these types are shared so workflows can price work deterministically.
 */
export const FEATURES = ['conversation', 'continuation', 'rag', 'upskilling'] as const;
export type Feature = (typeof FEATURES)[number];

export const TASK_SIZES = ['small', 'medium', 'large'] as const;
export type TaskSize = (typeof TASK_SIZES)[number];

export interface RateCard {
  version: number;
  conversation: { baseCredits: number; per1kOutputTokens: number };
  continuation: { baseCredits: number };
  ragSurcharge: { credits: number };
  upskilling: { perTrainingUnit: number };
  projectPlanning: { credits: number };
  projectTask: Record<TaskSize, number>;
  /** Multipliers in basis points (10,000 = 1x) so pricing stays in integers. */
  modelMultipliersBp: Record<string, number>;
}
