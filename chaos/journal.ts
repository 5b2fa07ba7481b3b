/**
 * What the load driver did and was told, kept to be checked against the database at the end.
 * Only the driver writes it; the invariant checks only read it.
 */

export interface ChaosUser {
  id: string;
  apiKey: string;
}

/** An agent published by the driver, and its creator (who earns a share of other users' charges). */
export interface ChaosAgent {
  id: string;
  creatorId: string;
  creator: ChaosUser;
}

export type UsageOutcome = 'charged' | 'replayed' | 'refused' | 'rejected' | 'unknown';

export interface UsageEventRecord {
  user: ChaosUser;
  eventId: string;
  body: Record<string, unknown>;
  outcome: UsageOutcome;
  /** Credits the answer said were charged (201, or a 200 replay). */
  charged?: number;
  /** The first answer was a 200 replay: the charge committed on an attempt whose answer was lost. */
  firstAnswerReplay?: boolean;
}

export interface RepeatRecord {
  eventId: string;
  userId: string;
  status: number;
  replayed: boolean;
  charged: number | undefined;
  originalCharged: number;
}

export type PurchaseIntent = 'paid' | 'declined' | 'paid twice' | 'abandoned';

export interface PurchaseRecord {
  user: ChaosUser;
  purchaseId: string;
  sessionId: string;
  intent: PurchaseIntent;
  credits: number;
  /** The stand-in took the money (Pay answered with its redirect). */
  paid: boolean;
  /** For `paid twice`: the second charge and the event that announced it. */
  duplicate?: { paymentIntentId: string; eventId: string };
  /** Why the projects flow bought it (a top-up for a paused project), if it did. */
  topUpFor?: string;
}

export type ProjectIntent = 'complete' | 'cancel' | 'pause, top-up by grant' | 'pause, top-up by purchase';

export interface ProjectRecord {
  user: ChaosUser;
  projectId: string;
  intent: ProjectIntent;
  tasks: number;
  /** The project was seen paused for lack of credits before its top-up. */
  sawPaused: boolean;
  toppedUp: boolean;
  cancelAnswered?: number;
}

export class Journal {
  readonly users: ChaosUser[] = [];
  readonly agents: ChaosAgent[] = [];
  readonly usage = new Map<string, UsageEventRecord>();
  readonly repeats: RepeatRecord[] = [];
  readonly purchases: PurchaseRecord[] = [];
  readonly projects: ProjectRecord[] = [];
  readonly grants: { userId: string; credits: number; key: string; answered: number }[] = [];
  /** A retry under the same Idempotency-Key that named another resource. */
  readonly idempotencyMismatches: string[] = [];
  /** Answers the driver could not read (a body of the wrong shape): each one a broken promise. */
  readonly driverErrors: string[] = [];

  usageKey(userId: string, eventId: string): string {
    return `${userId}:${eventId}`;
  }

  addUsage(record: UsageEventRecord): void {
    this.usage.set(this.usageKey(record.user.id, record.eventId), record);
  }
}
