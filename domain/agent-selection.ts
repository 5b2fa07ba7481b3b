/**
 * How the project planner picks an agent for a task that names none (DESIGN.md §11): among the
 * published agents, at random but weighted by each agent's Bayesian average rating, so "higher-rated
 * agents get selected more often" while a new agent still gets a chance. The randomness comes from
 * a seed (the project and the task), never from Math.random: the same inputs always pick the same
 * agent, so the choice can be recomputed, tested and replayed.
 */

/** The stars an agent is assumed to have before anyone rated it (the middle of 1–5). */
export const PRIOR_MEAN_STARS = 3;
/** How many ratings that assumption is worth: a few real ratings move an agent, one does not decide it. */
export const PRIOR_WEIGHT = 5;
/** The planner weighs at most this many agents, the best by Bayesian average (bounds what it reads). */
export const MAX_CANDIDATES = 100;

/** What selection needs to know about an agent. */
export interface AgentStats {
  id: string;
  ratingsCount: number;
  starsTotal: number;
}

/**
 * (C·m + Σstars) / (C + n): the mean of the agent's stars pulled toward the prior mean m by C
 * imaginary ratings. Always within 1–5, so it is a positive weight.
 */
export function bayesianRating(agent: Pick<AgentStats, 'ratingsCount' | 'starsTotal'>): number {
  return (PRIOR_WEIGHT * PRIOR_MEAN_STARS + agent.starsTotal) / (PRIOR_WEIGHT + agent.ratingsCount);
}

/**
 * A number in [0, 1) from a string: cyrb53 (a public-domain 53-bit string hash built on
 * Math.imul, fast and well mixed), divided by 2^53. Pure arithmetic on the string's UTF-16
 * units: the same seed gives the same number on every machine and in workflow code.
 */
export function seededFraction(seed: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < seed.length; i++) {
    const ch = seed.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const hash = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return hash / 2 ** 53;
}

/**
 * The agent for one task: each candidate's chance is its Bayesian average over the sum of them.
 * Candidates are ordered by id first, so the order they were read in does not matter; undefined
 * when there are none (the task runs without an agent).
 */
export function chooseAgent(candidates: readonly AgentStats[], seed: string): string | undefined {
  if (candidates.length === 0) return undefined;
  const ordered = [...candidates].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const weights = ordered.map(bayesianRating);
  const total = weights.reduce((sum, w) => sum + w, 0);
  let point = seededFraction(seed) * total;
  for (let i = 0; i < ordered.length; i++) {
    point -= weights[i]!;
    if (point < 0) return ordered[i]!.id;
  }
  // Only reachable through floating-point rounding at the very top of the range.
  return ordered.at(-1)!.id;
}

/** The seed of a project task's choice: a retried or recomputed choice for the same task agrees. */
export function taskAgentSeed(projectId: string, position: number): string {
  return `agent-selection:${projectId}:${position}`;
}
