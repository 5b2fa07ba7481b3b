import type { TaskSize } from './rates';

/** Most tasks the simulated planner makes from one prompt. */
export const MAX_PLANNED_TASKS = 50;

/**
 * The deterministic stand-in for an AI planner: one task per sentence or line of the prompt,
 * sized by its length. Deterministic so an estimate of a prompt-only project equals what the
 * project then runs. A real planner plugs in behind the executor interface.
 */
export function planFromPrompt(prompt: string): { title: string; size: TaskSize }[] {
  const parts = prompt
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .slice(0, MAX_PLANNED_TASKS);
  const steps = parts.length > 0 ? parts : [prompt.trim() || 'task'];
  return steps.map((text) => ({
    title: text.length > 80 ? `${text.slice(0, 77)}...` : text,
    size: text.length < 40 ? 'small' : text.length < 160 ? 'medium' : 'large',
  }));
}
