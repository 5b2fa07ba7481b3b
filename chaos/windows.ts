/**
 * When Postgres was being faulted (stopped and started, backends terminated). An HTTP 5xx that
 * overlaps one of these windows is counted apart from a 5xx at any other time: until the API
 * answers 503 while Postgres is away (issue 13, item 3), a 500 there is expected, elsewhere it is a bug.
 */
export interface FaultWindow {
  kind: string;
  startMs: number;
  endMs: number;
}

/** After Postgres is back, pools find their dead connections on first use: allow this long. */
export const RECOVERY_GRACE_MS = 3000;

export class FaultWindows {
  readonly closed: FaultWindow[] = [];
  private readonly open = new Map<number, { kind: string; startMs: number }>();
  private nextId = 0;

  /** Opens a window now; the returned function closes it. */
  begin(kind: string): () => void {
    const id = this.nextId++;
    this.open.set(id, { kind, startMs: Date.now() });
    return () => {
      const w = this.open.get(id);
      if (!w) return;
      this.open.delete(id);
      this.closed.push({ ...w, endMs: Date.now() + RECOVERY_GRACE_MS });
    };
  }

  /** The window a request from `startMs` to `endMs` overlapped, if any. */
  overlapping(startMs: number, endMs: number): FaultWindow | undefined {
    const now = Date.now();
    const all = [...this.closed, ...[...this.open.values()].map((w) => ({ ...w, endMs: now }))];
    return all.find((w) => startMs <= w.endMs && endMs >= w.startMs);
  }
}
