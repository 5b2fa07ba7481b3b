import { type CheckResult, check } from './check';

/** An API or worker process that exited without the harness killing it. */
export interface Crash {
  name: string;
  detail: string;
  /** It died while Postgres was being restarted or its backends terminated (or just after). */
  duringPostgresFault: boolean;
}

/**
 * DESIGN.md §14: processes recover by themselves from a Postgres fault. A process that dies is
 * started again by the harness (as an orchestrator would), so the money promises are checked
 * either way; its death is a violation outside Postgres faults always, inside them under --strict.
 */
export function processChecks(crashes: Crash[], starts: number, strict: boolean): CheckResult[] {
  const counted = strict ? crashes : crashes.filter((c) => !c.duringPostgresFault);
  return [
    check(
      strict
        ? 'no API or worker process died by itself (strict)'
        : 'no API or worker process died by itself outside Postgres faults',
      starts,
      counted.map((c) => `${c.name} ${c.detail}`),
    ),
  ];
}
