import type { Outcome, Stats } from './stats';
import type { FaultWindows } from './windows';

export interface Answer {
  /** 0 when no answer came (connection refused or reset, timeout). */
  status: number;
  body: Record<string, unknown>;
}

export interface RequestSpec {
  /** The operation kind the report counts it under, e.g. `usage`, `purchase`. */
  kind: string;
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  /** Bearer key: a user's API key or the operator key. */
  key?: string;
  body?: unknown;
  idempotencyKey?: string;
}

/** A request that hangs longer than this counts as unanswered (the API must answer within seconds). */
const TIMEOUT_MS = 30_000;

/**
 * The load driver's HTTP client: round-robin over the API processes (as a client behind DNS
 * round-robin would, without health checks: a killed process answers nothing and the retry goes
 * to the next one), every attempt counted in `stats`.
 */
export class ApiClient {
  private next = 0;

  constructor(
    private readonly targets: () => readonly string[],
    private readonly stats: Stats,
    private readonly windows: FaultWindows,
  ) {}

  /** One attempt against the next API process. */
  async once(spec: RequestSpec): Promise<Answer> {
    const targets = this.targets();
    const base = targets[this.next++ % targets.length]!;
    const startMs = Date.now();
    let answer: Answer;
    try {
      const res = await fetch(`${base}${spec.path}`, {
        method: spec.method,
        headers: {
          ...(spec.key ? { authorization: `Bearer ${spec.key}` } : {}),
          ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(spec.idempotencyKey ? { 'idempotency-key': spec.idempotencyKey } : {}),
        },
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      const text = await res.text();
      answer = { status: res.status, body: parseBody(text) };
    } catch {
      answer = { status: 0, body: {} };
    }
    this.count(spec, answer, startMs);
    return answer;
  }

  /**
   * Retries while no answer or a 5xx comes, as a client with an idempotency key may: the same
   * key (or usage eventId) makes a retry safe. Returns the last answer.
   */
  async call(spec: RequestSpec, attempts = 4): Promise<Answer> {
    let answer: Answer = { status: 0, body: {} };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      answer = await this.once(spec);
      if (answer.status !== 0 && answer.status < 500) return answer;
      if (attempt < attempts) await new Promise((r) => setTimeout(r, 300 * attempt));
    }
    return answer;
  }

  private count(spec: RequestSpec, answer: Answer, startMs: number): void {
    const outcome = this.classify(answer.status, startMs);
    this.stats.record(spec.kind, outcome);
    if (outcome === '5xx in fault window' || outcome === '5xx outside') {
      const error = {
        kind: spec.kind,
        status: answer.status,
        path: `${spec.method} ${spec.path}`,
        body: JSON.stringify(answer.body).slice(0, 300),
        atMs: Date.now(),
      };
      (outcome === '5xx outside' ? this.stats.errorsOutside : this.stats.errorsInWindow).push(error);
    }
  }

  private classify(status: number, startMs: number): Outcome {
    if (status === 0) return 'no answer';
    if (status < 300) return '2xx';
    if (status === 402) return '402';
    if (status === 409) return '409';
    if (status < 500) return 'other 4xx';
    if (status === 503) return '503';
    return this.windows.overlapping(startMs, Date.now()) ? '5xx in fault window' : '5xx outside';
  }
}

function parseBody(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return { text: text.slice(0, 200) };
  }
}
