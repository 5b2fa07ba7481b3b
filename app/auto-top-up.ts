/**
 * Auto top-up (DESIGN.md §13): when a user's headroom — available credits minus what their
 * running projects still need for their next task — falls below `belowCredits`, the saved card
 * is charged off-session for the chosen package and the package is credited once.
 *
 * - The trigger (`autoTopUpIfCrossed`) runs in `balanceEvents.debited`, after every debit: only
 *   the debit that takes the headroom from at or above the threshold to below it crosses, and it
 *   signals-with-start the user's one auto top-up workflow (workflows/auto-top-up.ts) with its
 *   own debit key as the crossing. Users without auto top-up cost nothing here: the threshold
 *   is on the user's row (`autoTopUpBelow`), which the usage path already holds.
 * - The workflow serializes a user's top-ups and dedupes crossings while one is in flight; each
 *   step below is one of its activities: `beginAutoTopUp` (open the automatic purchase under the
 *   setting's lock, within the monthly limit counting charges in flight), `chargeSavedCard`
 *   (one PaymentIntent keyed by the purchase, hence the crossing), `creditAutoTopUp` (the
 *   ledger, keyed by the PaymentIntent), `failAutoTopUp` (three failures in a row suspend it,
 *   with one notice, until the setting is saved again).
 * - `autoTopUpInFlight` is what a project about to pause asks first (see workflows/auto-top-up.ts).
 *
 * Choice: "available plus what projects still need" is read as headroom = available − needs
 * (spend already committed brings the top-up forward; a project about to pause for its next
 * task is exactly the case to top up for). `headroomOf` is the one place that says so.
 */
import type { Client } from '@temporalio/client';
import Stripe from 'stripe';
import { idOf, offSessionIntentSchema } from '../activities/stripe-objects';
import {
  type AutoPurchaseView,
  type AutoTopUpSetting,
  type AutoTopUpSkip,
  failAutoPurchase,
  failuresInARow,
  findAutoTopUp,
  liveProjectIds,
  monthAutoSpendCents,
  nextTaskNeeds,
  openAutoPurchase,
  pendingAutoPurchase,
  recentAutoPurchases,
  saveAutoTopUp as saveSetting,
} from '../db/auto-top-up';
import { findCustomer } from '../db/customers';
import { uuidFromSeed } from '../db/ids';
import type { Ledger } from '../db/ledger';
import { findPackage } from '../db/packages';
import type { Sql } from '../db/pool';
import { markPurchaseCompleted } from '../db/purchases';
import { findUserById, type User } from '../db/users';
import { formatMoney, ValidationError } from '../domain';
import type { Mailer } from '../mail/mailer';
import { signalAutoTopUp } from '../workflows/starters';
import type { BalanceEvents, Debited } from './balance-events';

export type { AutoTopUpSetting } from '../db/auto-top-up';

/** How the workflow is started: its polling (a payment still processing) and its idle end. */
export const AUTO_TOP_UP_RUN = { pollIntervalSeconds: 2, idleSeconds: 300 } as const;

/** Recent automatic purchases shown with the setting. */
const RECENT = 10;

// ── The trigger ──────────────────────────────────────────────────────────────────────────────

/** Available credits minus what running projects still need for their next task. */
export function headroomOf(available: number, nextTaskNeeds: number): number {
  return available - nextTaskNeeds;
}

/**
 * Whether a debit of `charged` that left `availableAfter` crosses `below` (what projects need is
 * read right after the debit and taken as it was just before it). Concurrent debits are ordered
 * by the ledger, so of many debits crossing at once exactly one sees itself cross.
 */
export function crossesBelow(below: number, charged: number, availableAfter: number, needs: number): boolean {
  const after = headroomOf(availableAfter, needs);
  return after + charged >= below && after < below;
}

export interface AutoTopUpTriggerDeps {
  sql: Sql;
  temporal: Client;
  taskQueue?: string | undefined;
}

/**
 * After a debit: when it crosses the user's auto top-up threshold, the user's auto top-up
 * workflow hears of it (signal-with-start). True when it signalled. Cheap when auto top-up is
 * off (the threshold comes with the user) and when the debit cannot cross (no query then).
 */
export async function autoTopUpIfCrossed(deps: AutoTopUpTriggerDeps, debited: Debited): Promise<boolean> {
  if (!deps.taskQueue) return false;
  const below = await thresholdOf(deps.sql, debited);
  if (below === null) return false;
  // Needs are never negative: a debit whose balance was below the threshold before cannot cross.
  if (debited.availableAfter + debited.charged < below) return false;
  const needs = await nextTaskNeeds(deps.sql, debited.userId);
  if (!crossesBelow(below, debited.charged, debited.availableAfter, needs)) return false;
  await signalAutoTopUp(
    deps.temporal,
    deps.taskQueue,
    { userId: debited.userId, ...AUTO_TOP_UP_RUN },
    {
      crossingKey: debited.debitKey,
      belowCredits: below,
      headroom: headroomOf(debited.availableAfter, needs),
    },
  );
  return true;
}

/** The threshold from the user the caller holds (the usage path's cached user), else the row. */
async function thresholdOf(sql: Sql, debited: Debited): Promise<number | null> {
  const held: unknown = debited.user;
  if (isUserWithThreshold(held)) return held.autoTopUpBelow;
  return (await findUserById(sql, debited.userId))?.autoTopUpBelow ?? null;
}

function isUserWithThreshold(user: unknown): user is Pick<User, 'autoTopUpBelow'> {
  return typeof user === 'object' && user !== null && 'autoTopUpBelow' in user;
}

// ── The setting ──────────────────────────────────────────────────────────────────────────────

export interface AutoTopUpView extends AutoTopUpSetting {
  /** `suspended` after three failed top-ups in a row, until the setting is saved again. */
  state: 'active' | 'suspended';
  failuresInARow: number;
  /** This calendar month's (UTC) automatic charges, in flight included, in the package's currency. */
  monthSpendCents: number;
  currency: string | null;
  /** A top-up being charged right now. */
  inFlight: boolean;
  savedCard: { brand: string; last4: string } | null;
  recentPurchases: AutoPurchaseView[];
}

export interface AutoTopUpSettingsDeps extends AutoTopUpTriggerDeps {
  ledger: Ledger;
}

/** The setting as the user sees it, or null when they never saved one. */
export async function autoTopUpView(deps: { sql: Sql }, userId: string): Promise<AutoTopUpView | null> {
  const setting = await findAutoTopUp(deps.sql, userId);
  if (!setting) return null;
  const [pkg, customer, pending, recent, failures] = await Promise.all([
    findPackage(deps.sql, setting.packageId, userId),
    findCustomer(deps.sql, userId),
    pendingAutoPurchase(deps.sql, userId),
    recentAutoPurchases(deps.sql, userId, RECENT),
    failuresInARow(deps.sql, userId, setting.savedAt),
  ]);
  const currency = pkg?.currency ?? null;
  return {
    enabled: setting.enabled,
    belowCredits: setting.belowCredits,
    packageId: setting.packageId,
    monthlyLimitCents: setting.monthlyLimitCents,
    state: setting.state,
    failuresInARow: failures,
    monthSpendCents: currency ? await monthAutoSpendCents(deps.sql, userId, currency) : 0,
    currency,
    inFlight: pending !== null,
    savedCard: customer?.card ? { brand: customer.card.brand, last4: customer.card.last4 } : null,
    recentPurchases: recent,
  };
}

/**
 * Saves the setting (PUT /v1/settings `autoTopUp`). Enabling needs a saved card (the first
 * Checkout purchase saves one) and a package the user can buy now, unlimited (a limited deal is
 * not for automatic buying), whose price fits in the monthly limit. Saving ends a suspension.
 * When the headroom is already below the new threshold, the first top-up starts now (its
 * crossing is the save itself): nobody should wait for a debit that can no longer cross.
 */
export async function saveAutoTopUp(
  deps: AutoTopUpSettingsDeps,
  request: { userId: string; setting: AutoTopUpSetting },
): Promise<AutoTopUpView> {
  const { userId, setting } = request;
  const pkg = await findPackage(deps.sql, setting.packageId, userId);
  if (!pkg) throw new ValidationError('autoTopUp.packageId', `no package ${setting.packageId} for this user`);
  if (setting.enabled) {
    const customer = await findCustomer(deps.sql, userId);
    if (!customer?.card) {
      throw new ValidationError(
        'autoTopUp',
        'needs a saved card: buy a package once through Checkout, which saves the card you pay with',
      );
    }
    if (pkg.status !== 'active')
      throw new ValidationError(
        'autoTopUp.packageId',
        `package ${pkg.id} can no longer be bought (${pkg.status})`,
      );
    if (pkg.maxPurchases !== null)
      throw new ValidationError(
        'autoTopUp.packageId',
        `package ${pkg.id} is limited; choose one that is always on sale`,
      );
    if (setting.monthlyLimitCents < pkg.priceCents) {
      throw new ValidationError(
        'autoTopUp.monthlyLimitCents',
        `must allow at least one top-up: package ${pkg.id} costs ${formatMoney(pkg.priceCents, pkg.currency)}`,
      );
    }
  }
  const saved = await saveSetting(deps.sql, userId, setting);
  if (setting.enabled && deps.taskQueue) {
    const [{ available }, needs] = await Promise.all([
      deps.ledger.balance(userId),
      nextTaskNeeds(deps.sql, userId),
    ]);
    const headroom = headroomOf(available, needs);
    if (headroom < setting.belowCredits) {
      await signalAutoTopUp(
        deps.temporal,
        deps.taskQueue,
        { userId, ...AUTO_TOP_UP_RUN },
        { crossingKey: `settings:${userId}:${saved.savedAt}`, belowCredits: setting.belowCredits, headroom },
      );
    }
  }
  return (await autoTopUpView(deps, userId))!;
}

// ── The workflow's steps ─────────────────────────────────────────────────────────────────────

export interface AutoTopUpStepDeps {
  sql: Sql;
  ledger: Ledger;
  stripe: Stripe;
  mailer: Mailer;
  balanceEvents: BalanceEvents;
}

/** What to charge for a crossing, or why nothing is. */
export type AutoTopUpAttempt =
  | {
      kind: 'charge';
      purchaseId: string;
      packageId: string;
      credits: number;
      amountCents: number;
      currency: string;
      customerId: string;
      paymentMethodId: string;
    }
  | { kind: 'skipped'; reason: AutoTopUpSkip | 'package_unavailable' | 'no_saved_card' };

/** The purchase a crossing makes: the same for every retry of the same crossing. */
export function autoPurchaseId(userId: string, crossingKey: string): string {
  return uuidFromSeed(`auto-top-up:${userId}:${crossingKey}`);
}

export async function beginAutoTopUp(
  deps: { sql: Sql },
  input: { userId: string; crossingKey: string },
): Promise<AutoTopUpAttempt> {
  const setting = await findAutoTopUp(deps.sql, input.userId);
  if (!setting?.enabled) return { kind: 'skipped', reason: 'disabled' };
  const [pkg, customer] = await Promise.all([
    findPackage(deps.sql, setting.packageId, input.userId),
    findCustomer(deps.sql, input.userId),
  ]);
  if (pkg?.status !== 'active' || pkg.maxPurchases !== null)
    return { kind: 'skipped', reason: 'package_unavailable' };
  if (!customer?.card) return { kind: 'skipped', reason: 'no_saved_card' };
  const purchaseId = autoPurchaseId(input.userId, input.crossingKey);
  const opened = await openAutoPurchase(deps.sql, {
    purchaseId,
    userId: input.userId,
    packageId: pkg.id,
    credits: pkg.credits,
    priceCents: pkg.priceCents,
    currency: pkg.currency,
    crossingKey: input.crossingKey,
  });
  if ('skipped' in opened) return { kind: 'skipped', reason: opened.skipped };
  return {
    kind: 'charge',
    purchaseId,
    packageId: pkg.id,
    credits: opened.opened.credits,
    amountCents: opened.opened.priceCents,
    currency: opened.opened.currency,
    customerId: customer.customerId,
    paymentMethodId: customer.card.paymentMethodId,
  };
}

/** How an off-session charge stands: settled either way, or still processing (poll again). */
export interface AutoTopUpPayment {
  status: 'succeeded' | 'failed' | 'processing';
  paymentIntentId: string | null;
  reason: string | null;
}

function paymentOf(intent: ReturnType<typeof offSessionIntentSchema.parse>): AutoTopUpPayment {
  const error = intent.last_payment_error;
  const why = error ? `${error.code ?? 'payment_failed'}: ${error.message ?? ''}`.trim() : null;
  switch (intent.status) {
    case 'succeeded':
      return { status: 'succeeded', paymentIntentId: intent.id, reason: null };
    case 'processing':
      return { status: 'processing', paymentIntentId: intent.id, reason: null };
    case 'requires_action':
      return { status: 'failed', paymentIntentId: intent.id, reason: why ?? 'authentication_required' };
    case 'requires_payment_method':
    case 'requires_confirmation':
    case 'requires_capture':
    case 'canceled':
      return { status: 'failed', paymentIntentId: intent.id, reason: why ?? intent.status };
  }
}

/**
 * One off-session PaymentIntent on the saved card, keyed by the automatic purchase (so by the
 * crossing): a retried activity gets Stripe's stored answer, never a second charge. A decline or
 * a card that needs the cardholder (authentication_required) is an answer, not a fault.
 */
export async function chargeSavedCard(
  deps: { stripe: Stripe },
  input: {
    purchaseId: string;
    userId: string;
    customerId: string;
    paymentMethodId: string;
    amountCents: number;
    currency: string;
    packageId: string;
  },
): Promise<AutoTopUpPayment> {
  const metadata = {
    purchaseId: input.purchaseId,
    userId: input.userId,
    packageId: input.packageId,
    origin: 'auto_top_up',
  };
  try {
    const intent = await deps.stripe.paymentIntents.create(
      {
        amount: input.amountCents,
        currency: input.currency,
        customer: input.customerId,
        payment_method: input.paymentMethodId,
        off_session: true,
        confirm: true,
        description: `Auto top-up: ${input.packageId}`,
        metadata,
      },
      { idempotencyKey: `auto-top-up:${input.purchaseId}` },
    );
    return paymentOf(offSessionIntentSchema.parse(intent));
  } catch (error) {
    if (error instanceof Stripe.errors.StripeCardError) {
      const intentId = idOf(offSessionIntentSchema.safeParse(error.payment_intent).data?.id ?? null);
      return {
        status: 'failed',
        paymentIntentId: intentId,
        reason: `${error.code ?? 'card_error'}: ${error.message}`,
      };
    }
    // The saved card was removed or is unusable: Stripe will refuse it again; count it.
    if (error instanceof Stripe.errors.StripeInvalidRequestError)
      return { status: 'failed', paymentIntentId: null, reason: `invalid_request: ${error.message}` };
    throw error;
  }
}

/** Asks Stripe how a payment that was still processing stands (no webhook needed). */
export async function checkAutoTopUpPayment(
  deps: { stripe: Stripe },
  input: { paymentIntentId: string },
): Promise<AutoTopUpPayment> {
  return paymentOf(
    offSessionIntentSchema.parse(await deps.stripe.paymentIntents.retrieve(input.paymentIntentId)),
  );
}

/**
 * Credits the automatic purchase once (keyed by its PaymentIntent) and completes it; the user's
 * paused projects hear of it (balanceEvents.credited). Returns the user's running projects: the
 * workflow wakes them too (one may be waiting for this top-up instead of pausing).
 */
export async function creditAutoTopUp(
  deps: AutoTopUpStepDeps,
  input: { purchaseId: string; userId: string; credits: number; paymentIntentId: string },
): Promise<{ available: number; projectIds: string[] }> {
  const result = await deps.ledger.credit({
    idempotencyKey: `auto-top-up:${input.paymentIntentId}`,
    userId: input.userId,
    amount: input.credits,
    from: 'purchases',
    bucket: 'purchased',
    kind: 'purchase',
    description: `auto top-up ${input.purchaseId}`,
    cause: { type: 'purchase', id: input.purchaseId },
  });
  await markPurchaseCompleted(deps.sql, input.purchaseId, input.paymentIntentId);
  await deps.balanceEvents.credited({ userId: input.userId, reason: 'purchase' });
  return { available: result.availableAfter, projectIds: await liveProjectIds(deps.sql, input.userId) };
}

/**
 * The automatic purchase failed: recorded; the third failure in a row suspends auto top-up and
 * sends one notice (keyed by the purchase that suspended it, so a retry never sends a second).
 */
export async function failAutoTopUp(
  deps: AutoTopUpStepDeps,
  input: { purchaseId: string; userId: string; reason: string },
): Promise<{ suspended: boolean; failuresInARow: number; projectIds: string[] }> {
  const failed = await failAutoPurchase(deps.sql, input);
  if (failed.suspendedByThis) {
    const user = await findUserById(deps.sql, input.userId);
    if (user) {
      await deps.mailer.send({
        dedupeKey: `auto-top-up-suspended:${input.purchaseId}`,
        userId: user.id,
        kind: 'auto_top_up_suspended',
        recipient: user.email,
        subject: 'Auto top-up is paused: your card was not charged',
        body: [
          `Your last ${failed.failuresInARow} automatic top-ups could not be charged to your saved card.`,
          `The last one failed with: ${input.reason}`,
          'Auto top-up is paused until you save its setting again (PUT /v1/settings, or your credits page).',
          'Buy credits on your credits page to update your card, so your projects keep running.',
        ].join('\n'),
      });
    }
  }
  return {
    suspended: failed.suspendedByThis,
    failuresInARow: failed.failuresInARow,
    projectIds: await liveProjectIds(deps.sql, input.userId),
  };
}

/**
 * For a project about to pause for lack of credits: is a top-up of this user being charged?
 * If so the project should wait for it (the auto top-up workflow wakes the user's running
 * projects with a top-up signal once it settles, either way) instead of pausing at once.
 */
export async function autoTopUpInFlight(
  deps: { sql: Sql },
  input: { userId: string },
): Promise<{ inFlight: boolean; purchaseId: string | null; since: string | null }> {
  const pending = await pendingAutoPurchase(deps.sql, input.userId);
  return {
    inFlight: pending !== null,
    purchaseId: pending?.purchaseId ?? null,
    since: pending?.since ?? null,
  };
}
