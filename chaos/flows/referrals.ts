import type { PurchaseIntent, RefereeRecord, ReferrerKind, ReferrerRecord } from '../journal';
import type { FlowContext } from './context';
import { buy, waitForReceipt } from './purchases';
import { chaosEmail, signUp } from './users';

/** The stand-in's prefilled card, which every chaos purchase pays with unless it says otherwise. */
export const DEFAULT_CARD = '4242424242424242';
/** Another card that pays (Stripe's Mastercard test number): another fingerprint. */
export const OTHER_CARD = '5555555555554444';
/** Referees of the capped referrer, all buying at once: more than the monthly cap of 20 rewards. */
export const CAP_REFEREES = 24;

/** `chaos-x@example.test` → `chaos-x+tag@example.test`: the same mailbox (DESIGN.md §11). */
function tagged(email: string, tag: string): string {
  const at = email.lastIndexOf('@');
  return `${email.slice(0, at)}+${tag}${email.slice(at)}`;
}

async function referrer(ctx: FlowContext, kind: ReferrerKind): Promise<ReferrerRecord | null> {
  const user = await signUp(ctx, { kind: 'sign-up (referrer)' });
  if (!user) return null;
  const record: ReferrerRecord = { user, kind, cards: [] };
  if (kind === 'paid with 4242') {
    const bought = await buy(ctx, user, 'paid');
    if (!bought?.paid || !(await waitForReceipt(ctx, user.apiKey, 30))) return null;
    record.cards.push(DEFAULT_CARD);
  }
  ctx.journal.referrers.push(record);
  return record;
}

/**
 * Before the load: two referrers who never pay, two who paid with the 4242 card (credited, their
 * receipt seen), and the one whose referees will pass the monthly cap.
 */
export async function seedReferrers(ctx: FlowContext): Promise<void> {
  const kinds: ReferrerKind[] = ['never pays', 'never pays', 'paid with 4242', 'paid with 4242', 'capped'];
  await Promise.all(kinds.map((kind) => referrer(ctx, kind)));
}

/** A referee signs up with the referrer's code (one in six with the referrer's own email under a +tag). */
async function referee(ctx: FlowContext, of: ReferrerRecord, self: boolean): Promise<RefereeRecord | null> {
  const email = self ? tagged(of.user.email, `chaos${ctx.rng.int(1, 1_000_000)}`) : chaosEmail();
  const user = await signUp(ctx, {
    email,
    referralCode: of.user.referralCode,
    kind: self ? 'sign-up (self-referral)' : 'sign-up (referred)',
  });
  if (!user) return null;
  const record: RefereeRecord = { user, referrer: of, selfReferral: self };
  ctx.journal.referees.push(record);
  return record;
}

/**
 * One referred sign-up that then buys as anyone does (paid, paid twice, declined, abandoned), or
 * pays two purchases at once (two first purchases completing together), with the 4242 card or
 * another one.
 */
export async function referralFlow(ctx: FlowContext): Promise<void> {
  const pool = ctx.journal.referrers;
  if (pool.length === 0) return;
  const of = ctx.rng.pick(pool);
  const made = await referee(ctx, of, ctx.rng.chance(1 / 6));
  if (!made) return;
  const card = ctx.rng.chance(0.5) ? OTHER_CARD : undefined;
  const intent = ctx.rng.weighted<PurchaseIntent | 'two at once'>({
    paid: 4,
    'paid twice': 1,
    'two at once': 1,
    declined: 1,
    abandoned: 1,
  });
  if (intent === 'two at once') {
    await Promise.all([buy(ctx, made.user, 'paid', { card }), buy(ctx, made.user, 'paid', { card })]);
  } else {
    await buy(ctx, made.user, intent, { card });
  }
}

/**
 * At the start of the load: CAP_REFEREES referees of the capped referrer sign up and pay at the
 * same moment, so their rewards race for the last ones of the month.
 */
export async function capBurst(ctx: FlowContext): Promise<void> {
  const capped = ctx.journal.referrers.find((r) => r.kind === 'capped');
  if (!capped) return;
  await Promise.all(
    Array.from({ length: CAP_REFEREES }, async () => {
      try {
        const made = await referee(ctx, capped, false);
        if (made) await buy(ctx, made.user, 'paid');
      } catch (error) {
        ctx.journal.driverErrors.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
      }
    }),
  );
}
