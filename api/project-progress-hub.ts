import type { ProjectView } from '../db/projects';

export type UserProject = ProjectView & { userId: string };

export interface ProgressHubLimits {
  /** How often Postgres is read: once per interval for every stream of this process together. */
  pollMs: number;
  /** Open streams one user may hold (a few tabs); more is refused, so one user cannot fill the process. */
  perUserStreams: number;
  /** Open streams in this process; more is refused, so sockets and memory stay bounded. */
  totalStreams: number;
}

export type Refusal = 'user_limit' | 'server_limit';
export interface Subscription {
  unsubscribe(): void;
}

interface Subscriber {
  send: (projects: UserProject[]) => void;
  /** The poll round it joined in: the first later round sends it every project (its snapshot). */
  joined: number;
  fresh: boolean;
}

interface Watched {
  subscribers: Set<Subscriber>;
  /** Each project as last sent, to send only what changed. */
  last: Map<string, string>;
}

/**
 * Live project progress for the credits page (api/routes/project-events.ts). One poller per
 * process, not one per stream: each round reads the latest projects of every user with an open
 * stream in one query, and hands each stream what changed since the last round (a new stream
 * gets all of its user's projects first). The timer runs only while a stream is open and never
 * keeps the process alive. Polling Postgres, not Temporal, keeps it one indexed query whatever
 * the number of streams, and works unchanged with many API processes.
 */
export class ProjectProgressHub {
  private readonly users = new Map<string, Watched>();
  private streams = 0;
  private round = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private failing = false;

  constructor(
    private readonly read: (userIds: string[]) => Promise<UserProject[]>,
    private readonly limits: ProgressHubLimits,
    private readonly onError: (error: unknown) => void,
  ) {}

  get openStreams(): number {
    return this.streams;
  }

  subscribe(userId: string, send: (projects: UserProject[]) => void): Subscription | Refusal {
    if (this.streams >= this.limits.totalStreams) return 'server_limit';
    const watched = this.users.get(userId) ?? { subscribers: new Set<Subscriber>(), last: new Map() };
    if (watched.subscribers.size >= this.limits.perUserStreams) return 'user_limit';
    const subscriber: Subscriber = { send, joined: this.round, fresh: true };
    watched.subscribers.add(subscriber);
    this.users.set(userId, watched);
    this.streams += 1;
    // The snapshot as soon as possible: the page may have changed since it was rendered.
    if (!this.polling) this.schedule(0);
    return { unsubscribe: () => this.remove(userId, watched, subscriber) };
  }

  private remove(userId: string, watched: Watched, subscriber: Subscriber): void {
    if (!watched.subscribers.delete(subscriber)) return;
    this.streams -= 1;
    if (watched.subscribers.size === 0) this.users.delete(userId);
    if (this.users.size === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), ms);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    if (this.users.size === 0) return;
    this.polling = true;
    const round = ++this.round;
    const userIds = [...this.users.keys()];
    try {
      this.deliver(userIds, round, await this.read(userIds));
      this.failing = false;
    } catch (error) {
      // Postgres away: the streams stay open and catch up when it is back; logged once per outage.
      if (!this.failing) this.onError(error);
      this.failing = true;
    } finally {
      this.polling = false;
      if (this.users.size > 0) this.schedule(this.limits.pollMs);
    }
  }

  private deliver(userIds: string[], round: number, rows: UserProject[]): void {
    const byUser = new Map<string, UserProject[]>();
    for (const row of rows) {
      const list = byUser.get(row.userId) ?? [];
      list.push(row);
      byUser.set(row.userId, list);
    }
    for (const userId of userIds) {
      const watched = this.users.get(userId);
      if (!watched) continue;
      const projects = byUser.get(userId) ?? [];
      const changed = projects.filter((p) => watched.last.get(p.id) !== JSON.stringify(p));
      watched.last = new Map(projects.map((p) => [p.id, JSON.stringify(p)]));
      for (const subscriber of watched.subscribers) {
        // Joined while this round's read was under way: its snapshot may predate the page, so it waits a round.
        if (subscriber.joined >= round) continue;
        const batch = subscriber.fresh ? projects : changed;
        subscriber.fresh = false;
        if (batch.length > 0) subscriber.send(batch);
      }
    }
  }
}
