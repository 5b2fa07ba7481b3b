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

/** What a stream hears from the hub. */
export interface Listener {
  /** The topic's rows: all of them first (the snapshot, possibly none), then each that changed. */
  send(projects: UserProject[]): void;
  /**
   * A read failed. Without this the stream waits and catches up when Postgres is back; with it
   * the stream is told (an API client then reconnects and hears the 503 itself).
   */
  failed?(error: unknown): void;
}

interface Subscriber extends Listener {
  /** The poll round it joined in: the first later round sends it every row of its topic (its snapshot). */
  joined: number;
  fresh: boolean;
}

interface Watched {
  subscribers: Set<Subscriber>;
  /** Each row as last sent, to send only what changed. */
  last: Map<string, string>;
}

/**
 * Live project progress over Server-Sent Events: one poller per route and process for all of the
 * route's streams (api/routes/project-events.ts for the credits page, api/routes/projects.ts for
 * the API). A stream subscribes to a topic (a user's latest projects, or one project) as its
 * user; each round reads the rows of every topic with an open stream in one query, and hands
 * each stream what changed since the last round (a new stream gets its topic's rows first). The
 * timer runs only while a stream is open and never keeps the process alive. Polling Postgres,
 * not Temporal, keeps it one indexed query whatever the number of streams, and works unchanged
 * with many API processes. Limits count a user's streams and the process's, whatever the topic.
 */
export class ProjectProgressHub {
  private readonly topics = new Map<string, Watched>();
  private readonly perUser = new Map<string, number>();
  private streams = 0;
  private round = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private failing = false;

  /**
   * @param read the rows of these topics, in one query
   * @param topicOf the topic a row belongs to (its user's id, or its own id)
   */
  constructor(
    private readonly read: (topics: string[]) => Promise<UserProject[]>,
    private readonly topicOf: (row: UserProject) => string,
    private readonly limits: ProgressHubLimits,
    private readonly onError: (error: unknown) => void,
  ) {}

  get openStreams(): number {
    return this.streams;
  }

  subscribe(userId: string, topic: string, listener: Listener): Subscription | Refusal {
    if (this.streams >= this.limits.totalStreams) return 'server_limit';
    const held = this.perUser.get(userId) ?? 0;
    if (held >= this.limits.perUserStreams) return 'user_limit';
    const watched = this.topics.get(topic) ?? { subscribers: new Set<Subscriber>(), last: new Map() };
    const subscriber: Subscriber = { ...listener, joined: this.round, fresh: true };
    watched.subscribers.add(subscriber);
    this.topics.set(topic, watched);
    this.perUser.set(userId, held + 1);
    this.streams += 1;
    // The snapshot as soon as possible: the page may have changed since it was rendered.
    if (!this.polling) this.schedule(0);
    return { unsubscribe: () => this.remove(userId, topic, watched, subscriber) };
  }

  private remove(userId: string, topic: string, watched: Watched, subscriber: Subscriber): void {
    if (!watched.subscribers.delete(subscriber)) return;
    this.streams -= 1;
    const held = (this.perUser.get(userId) ?? 1) - 1;
    if (held > 0) this.perUser.set(userId, held);
    else this.perUser.delete(userId);
    if (watched.subscribers.size === 0) this.topics.delete(topic);
    if (this.topics.size === 0) {
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
    if (this.topics.size === 0) return;
    this.polling = true;
    const round = ++this.round;
    const topics = [...this.topics.keys()];
    try {
      this.deliver(topics, round, await this.read(topics));
      this.failing = false;
    } catch (error) {
      // Postgres away: logged once per outage; streams that asked to hear of it are told.
      if (!this.failing) this.onError(error);
      this.failing = true;
      this.fail(topics, error);
    } finally {
      this.polling = false;
      if (this.topics.size > 0) this.schedule(this.limits.pollMs);
    }
  }

  private deliver(topics: string[], round: number, rows: UserProject[]): void {
    const byTopic = new Map<string, UserProject[]>();
    for (const row of rows) {
      const topic = this.topicOf(row);
      const list = byTopic.get(topic) ?? [];
      list.push(row);
      byTopic.set(topic, list);
    }
    for (const topic of topics) {
      const watched = this.topics.get(topic);
      if (!watched) continue;
      const projects = byTopic.get(topic) ?? [];
      const changed = projects.filter((p) => watched.last.get(p.id) !== JSON.stringify(p));
      watched.last = new Map(projects.map((p) => [p.id, JSON.stringify(p)]));
      // A copy: a subscriber may unsubscribe while it is sent to (a stream that ends).
      for (const subscriber of [...watched.subscribers]) {
        // Joined while this round's read was under way: its snapshot may predate the page, so it waits a round.
        if (subscriber.joined >= round) continue;
        const batch = subscriber.fresh ? projects : changed;
        // A snapshot is sent even when empty: a stream of one project learns that it is gone.
        if (batch.length > 0 || subscriber.fresh) subscriber.send(batch);
        subscriber.fresh = false;
      }
    }
  }

  private fail(topics: string[], error: unknown): void {
    for (const topic of topics) {
      for (const subscriber of [...(this.topics.get(topic)?.subscribers ?? [])]) subscriber.failed?.(error);
    }
  }
}
