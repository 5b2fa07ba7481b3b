/** What the load driver sent and what came back, by operation kind (the report's first table). */
export type Outcome =
  | '2xx'
  | '402'
  | '409'
  | 'other 4xx'
  | '503'
  | '5xx in fault window'
  | '5xx outside'
  | 'no answer';

export const OUTCOMES: readonly Outcome[] = [
  '2xx',
  '402',
  '409',
  'other 4xx',
  '503',
  '5xx in fault window',
  '5xx outside',
  'no answer',
];

export interface ServerError {
  kind: string;
  status: number;
  path: string;
  body: string;
  atMs: number;
}

export class Stats {
  private readonly byKind = new Map<string, Map<Outcome, number>>();
  /** Every 5xx that was not a 503 and fell outside every Postgres fault window: each one a bug. */
  readonly errorsOutside: ServerError[] = [];
  /** 5xx other than 503 inside a fault window (kept for the report: expected until 503s land). */
  readonly errorsInWindow: ServerError[] = [];

  record(kind: string, outcome: Outcome): void {
    const counts = this.byKind.get(kind) ?? new Map<Outcome, number>();
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    this.byKind.set(kind, counts);
  }

  count(kind: string, outcome: Outcome): number {
    return this.byKind.get(kind)?.get(outcome) ?? 0;
  }

  kinds(): string[] {
    return [...this.byKind.keys()].sort();
  }

  total(outcome: Outcome): number {
    let n = 0;
    for (const counts of this.byKind.values()) n += counts.get(outcome) ?? 0;
    return n;
  }

  sent(kind: string): number {
    let n = 0;
    for (const v of this.byKind.get(kind)?.values() ?? []) n += v;
    return n;
  }
}
