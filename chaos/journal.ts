/**
 * What the load driver did and was told, kept to be checked against the database at the end.
 * Only the driver writes it; the invariant checks only read it.
 */

export interface ChaosUser {
  id: string;
  apiKey: string;
}

/** A user as POST /v1/users answered: with the email it was made with and its own referral code. */
export interface SignedUpUser extends ChaosUser {
  email: string;
  referralCode: string;
}

/** An agent published by the driver, and its creator (who earns a share of other users' charges). */
export interface ChaosAgent {
  id: string;
  creatorId: string;
  creator: ChaosUser;
  /** Used only by its own withdrawal flow (never named by random usage), so its creator's earnings are known exactly. */
  dedicated?: boolean;
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
  /** The card number typed on the checkout page; absent: the page's prefilled 4242 4242 4242 4242. */
  card?: string;
}

export type ProjectIntent =
  | 'complete'
  | 'cancel'
  | 'pause, top-up by grant'
  | 'pause, top-up by purchase'
  | BudgetIntent;

/** A project started with a budget (DESIGN.md §13) that stops it, and what its owner then does. */
export type BudgetIntent =
  | 'budget, raised while paused'
  | 'budget, cancelled while paused'
  | 'budget, raised while running';

/** The budget_exhausted pause as GET /v1/projects/:id showed it. */
export interface BudgetPauseSeen {
  budget: number;
  spent: number;
  needed: number;
}

export interface BudgetRecord {
  /** The budget it was started with. */
  maxCredits: number;
  /** What the whole project costs: planning (when it has a prompt) and every task at its estimate. */
  total: number;
  pausedFor?: BudgetPauseSeen;
  /** POST /v1/projects/:id/budget up to `total`: by its flow or, still paused for it then, by the settle phase. */
  raise?: { to: number; when: 'paused' | 'running' | 'settle'; status: number };
}

export interface ProjectRecord {
  user: ChaosUser;
  projectId: string;
  intent: ProjectIntent;
  tasks: number;
  /** The project was seen paused for lack of credits before its top-up. */
  sawPaused: boolean;
  toppedUp: boolean;
  cancelAnswered?: number;
  budget?: BudgetRecord;
}

/**
 * A referrer of the load: one who never pays (their referees earn them rewards), one who paid
 * with the 4242 card before any referee of theirs started buying (a referee paying with that
 * card is the same card), or the one whose referees all buy at once (the monthly cap).
 */
export type ReferrerKind = 'never pays' | 'paid with 4242' | 'capped';

export interface ReferrerRecord {
  user: SignedUpUser;
  kind: ReferrerKind;
  /** Cards the referrer paid with, each purchase credited (its receipt seen) before their referees bought. */
  cards: string[];
}

export interface RefereeRecord {
  user: SignedUpUser;
  referrer: ReferrerRecord;
  /** Signed up with the referrer's own email under a `+tag`: the same person. */
  selfReferral: boolean;
}

export type WithdrawalScenario =
  | 'approve'
  | 'reject'
  | 'transfer fails'
  | 'decided twice'
  | 'approve races reject'
  | 'two at once'
  | 'again after release'
  | 'unknown to the driver';

/** Why the driver asked: a plain withdrawal, or one that must be refused (402) and create nothing. */
export type WithdrawalAsk = 'withdrawal' | 'before clearing' | 'over the withdrawable' | 'two at once';

/** One POST /v1/withdrawals (its retries under the same Idempotency-Key included). */
export interface WithdrawalRequestRecord {
  user: ChaosUser;
  /** The payout account the withdrawal would be paid to. */
  accountId: string;
  key: string;
  credits: number;
  ask: WithdrawalAsk;
  scenario: WithdrawalScenario;
  /** The HTTP status of the last answer (0: none came). */
  status: number;
  sentAtMs: number;
  answeredAtMs: number;
  /** The withdrawal the 201/200 named. */
  id?: string;
  amountCents?: number;
  /** For `before clearing`: when the charge that earned the credits was first sent (they clear CLEARING s after it committed). */
  earnedSentAtMs?: number;
  /** Sent again by the settle phase because no answer came during the load. */
  resentAtSettle?: boolean;
}

export type DecisionPhase = 'first' | 'second' | 'race' | 'settle';

export interface DecisionRecord {
  decision: 'approve' | 'reject';
  phase: DecisionPhase;
  status: number;
  sentAtMs: number;
  answeredAtMs: number;
  /** Sent after another decision on the same withdrawal had answered 200: it must be a 409. */
  afterA200: boolean;
}

/** A withdrawal the driver knows (its request answered 201/200) and what the operator did to it. */
export interface WithdrawalRecord {
  id: string;
  user: ChaosUser;
  /** The Stripe Connect account it is paid to. */
  accountId: string;
  credits: number;
  scenario: WithdrawalScenario;
  /** Transfers to its account were made to fail (stand-in transferFaults) until it was final. */
  transferFault: boolean;
  decisions: DecisionRecord[];
  /** The final status its owner saw through GET /v1/withdrawals/:id, if they saw one. */
  seenFinal?: string;
}

/** Why the driver asked for an operator refund, and so what the answer must be. */
export type RefundAsk =
  | 'refund'
  | 'rest of the purchase'
  | 'above refundable'
  | 'race'
  | 'same key'
  | 'refused by Stripe'
  | 'while disputed';

/** One POST /v1/admin/refunds (its retries under the same Idempotency-Key included). */
export interface OperatorRefundRequestRecord {
  purchase: PurchaseRecord;
  key: string;
  /** Absent: all that is refundable. */
  credits?: number;
  reason: string;
  ask: RefundAsk;
  /** The purchase's refundable credits as the driver knew them just before (nothing else moved them). */
  refundableSeen?: number;
  /** The HTTP status of the last answer (0: none came). */
  status: number;
  sentAtMs: number;
  /** The refund the 201/200 named, as it answered. */
  id?: string;
  answered?: { credits: number; amountCents: number; status: string };
  /** The final status GET /v1/admin/refunds/:id showed the operator, if it showed one. */
  seenFinal?: string;
  resentAtSettle?: boolean;
}

/** A refund made in the Stripe Dashboard (stripe.refunds.create against the stand-in). */
export interface DashboardRefundRecord {
  purchaseId: string;
  paymentIntentId: string;
  amountCents: number;
  stripeRefundId?: string;
  /** Stripe refused it (e.g. the charge is disputed). */
  error?: string;
}

/** A dispute the driver opened through the stand-in (the cardholder's bank) and closed (Stripe's review). */
export interface DisputeRecord {
  purchaseId: string;
  paymentIntentId: string;
  disputeId: string;
  amountCents: number;
  outcome: 'won' | 'lost';
  /** Closed in Stripe (by the flow, or by the settle phase). */
  closed: boolean;
  /** charge.dispute.created was lost on its first delivery and redelivered after closed was answered. */
  closedFirst: boolean;
}

/** One POST /v1/usage/:eventId/reversal. */
export interface ReversalAttemptRecord {
  user: ChaosUser;
  eventId: string;
  /** The charge the usage answer named. */
  charged: number;
  how: 'once' | 'twice' | 'concurrent';
  status: number;
  body?: Record<string, unknown>;
  /** Sent after another reversal of the same event had been answered 201/200. */
  afterAnswered: boolean;
  resentAtSettle?: boolean;
}

/**
 * An auto top-up user (DESIGN.md §13): bought once through Checkout with `card` (which saved it),
 * enabled auto top-up, then spent below the threshold again and again.
 */
export type AutoTopUpScenario =
  | 'saved card pays'
  | 'races a manual purchase'
  | 'declines off-session'
  | 'needs authentication';

export interface AutoTopUpRecord {
  user: ChaosUser;
  scenario: AutoTopUpScenario;
  card: string;
  belowCredits: number;
  monthlyLimitCents: number;
  /** The status of the PUT /v1/settings answer that enabled it (0: none came). */
  enabledStatus: number;
  /** Debits the driver sent that took the balance it knew from at or above the threshold to below it. */
  crossings: number;
  /** Checkout purchases paid at the same moment as a crossing debit. */
  racedPurchases: number;
}

export class Journal {
  readonly users: ChaosUser[] = [];
  readonly agents: ChaosAgent[] = [];
  readonly usage = new Map<string, UsageEventRecord>();
  readonly repeats: RepeatRecord[] = [];
  readonly purchases: PurchaseRecord[] = [];
  readonly projects: ProjectRecord[] = [];
  /** Project starts no answer came for (kept to be sent again under their key when the faults stop). */
  readonly unansweredProjects: {
    record: Omit<ProjectRecord, 'projectId'>;
    key: string;
    body: Record<string, unknown>;
  }[] = [];
  readonly grants: { userId: string; credits: number; key: string; answered: number }[] = [];
  readonly referrers: ReferrerRecord[] = [];
  readonly referees: RefereeRecord[] = [];
  readonly withdrawalRequests: WithdrawalRequestRecord[] = [];
  readonly withdrawals = new Map<string, WithdrawalRecord>();
  /** Payout accounts whose transfers fail (stand-in transferFaults.failDestinations) until their withdrawals are final. */
  readonly faultedAccounts = new Set<string>();
  readonly refundRequests: OperatorRefundRequestRecord[] = [];
  readonly dashboardRefunds: DashboardRefundRecord[] = [];
  readonly disputes: DisputeRecord[] = [];
  readonly reversals: ReversalAttemptRecord[] = [];
  readonly autoTopUps: AutoTopUpRecord[] = [];
  /** Events the settle phase delivered again because none of their deliveries was answered 2xx. */
  readonly redelivered = new Set<string>();
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
