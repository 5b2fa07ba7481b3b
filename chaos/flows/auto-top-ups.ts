import { z } from 'zod';
import { AUTHENTICATION_CARDS, DECLINES_LATER_CARD, PAYING_CARD } from '../../dev/stripe/cards';
import type { AutoTopUpRecord, AutoTopUpScenario, ChaosUser } from '../journal';
import { type FlowContext, sleep, withinLoad } from './context';
import { buy, STARTER, waitForReceipt } from './purchases';
import { chargeUsage } from './usage';
import { grant, readBalance, signUp } from './users';

/** Auto top-up charges the saved card for the starter package when the balance falls below this. */
const BELOW_CREDITS = 3000;
/** Room for one or two starter packages a month: the limit is reached within one flow. */
const MONTHLY_LIMITS = [STARTER.priceCents, 2 * STARTER.priceCents] as const;
/** Pays at Checkout, needs the cardholder off-session (Stripe's 3-D Secure test card). */
const NEEDS_AUTHENTICATION_CARD = [...AUTHENTICATION_CARDS][0]!;
/** How long a crossing's top-up may take to be charged and credited before the flow goes on without it. */
const TOP_UP_SECONDS = 15;

const CARD: Record<AutoTopUpScenario, string> = {
  'saved card pays': PAYING_CARD,
  'races a manual purchase': PAYING_CARD,
  'declines off-session': DECLINES_LATER_CARD,
  'needs authentication': NEEDS_AUTHENTICATION_CARD,
};

/** buy()'s options for paying with `card`: none for the page's prefilled card, as the other flows buy. */
const paying = (card: string) => (card === PAYING_CARD ? {} : { card });

const settings = z.object({
  autoTopUp: z.object({
    state: z.enum(['active', 'suspended']),
    monthSpendCents: z.number().int().min(0),
    inFlight: z.boolean(),
    recentPurchases: z.array(z.object({ id: z.uuid(), status: z.string() })),
  }),
});
/** What GET /v1/settings shows of auto top-up, as much as the flow decides by. */
interface Seen {
  state: 'active' | 'suspended';
  monthSpendCents: number;
  inFlight: boolean;
  purchases: number;
  newestPending: boolean;
}

async function availableOf(ctx: FlowContext, user: ChaosUser): Promise<number | null> {
  return (await readBalance(ctx, user))?.available ?? null;
}

/** The setting as GET /v1/settings shows it (null when no answer came). */
async function seen(ctx: FlowContext, user: ChaosUser): Promise<Seen | null> {
  const answer = await ctx.api.call({
    kind: 'settings (read)',
    method: 'GET',
    path: '/v1/settings',
    key: user.apiKey,
  });
  if (answer.status !== 200) return null;
  const { autoTopUp } = settings.parse(answer.body);
  return {
    state: autoTopUp.state,
    monthSpendCents: autoTopUp.monthSpendCents,
    inFlight: autoTopUp.inFlight,
    purchases: autoTopUp.recentPurchases.length,
    newestPending: autoTopUp.recentPurchases[0]?.status === 'pending',
  };
}

/**
 * Waits for the crossing's top-up: when one is due (active, and the month's spend leaves room
 * for the package), until a new automatic purchase is settled either way; when none is due, a
 * moment, so a top-up that should not happen would show. Returns false when no answer came.
 */
async function awaitTopUp(ctx: FlowContext, record: AutoTopUpRecord, before: Seen): Promise<boolean> {
  const due =
    before.state === 'active' && before.monthSpendCents + STARTER.priceCents <= record.monthlyLimitCents;
  if (!due) {
    await sleep(1500);
    return (await seen(ctx, record.user)) !== null;
  }
  const until = Date.now() + withinLoad(ctx, TOP_UP_SECONDS) * 1000;
  while (Date.now() < until) {
    const now = await seen(ctx, record.user);
    if (now && !now.inFlight && !now.newestPending && now.purchases > before.purchases) return true;
    await sleep(300);
  }
  return false;
}

/**
 * One crossing: back above the threshold first if a top-up did not happen (an operator grant),
 * then usage events of 900–2,200 credits until the balance is below it. The debit expected to
 * cross is sent alone, as two debits of half its size at once (`pair`: the ledger orders them,
 * exactly one crosses), or at the same moment as a Checkout purchase paid with the saved card
 * (`race`). False when an answer did not come (what the balance is is then unknown): the flow stops.
 */
async function crossOnce(
  ctx: FlowContext,
  record: AutoTopUpRecord,
  how: { race: boolean; pair: boolean },
): Promise<boolean> {
  const { user } = record;
  let balance = await availableOf(ctx, user);
  if (balance === null) return false;
  if (balance < record.belowCredits) {
    if (!(await grant(ctx, user.id, record.belowCredits - balance + ctx.rng.int(200, 1500)))) return false;
    balance = await availableOf(ctx, user);
    if (balance === null || balance < record.belowCredits) return false;
  }
  const before = await seen(ctx, record.user);
  if (!before) return false;
  // Raced once per crossing: a purchase credited before the debit lands takes the balance back
  // up, and the loop goes on to cross without another.
  let race = how.race;
  while (balance >= record.belowCredits) {
    const credits = ctx.rng.int(900, 2200);
    const crossing = balance - credits < record.belowCredits;
    const debits = crossing && how.pair ? 2 : 1;
    // Conversation: 2 credits plus 4 per 1,000 output tokens (rate card v1).
    const body = { feature: 'conversation', outputTokens: Math.round((credits * 250) / debits) };
    const [usage, raced] = await Promise.all([
      Promise.all(
        Array.from({ length: debits }, () =>
          chargeUsage(ctx, user, { kind: 'usage (auto top-up user)', body }),
        ),
      ),
      crossing && race ? buy(ctx, user, 'paid', paying(record.card)) : null,
    ]);
    if (crossing) race = false;
    if (raced?.paid) record.racedPurchases++;
    if (usage.some((u) => u.charged === undefined)) return false;
    // Read, not computed: a raced purchase may be credited meanwhile. Only credits come between
    // the two reads, so a read below the threshold after one at or above it means one of these
    // debits crossed.
    balance = await availableOf(ctx, user);
    if (balance === null) return false;
  }
  record.crossings++;
  return awaitTopUp(ctx, record, before);
}

/**
 * An auto top-up user (DESIGN.md §13) in `scenario`: buys the starter package once through
 * Checkout with a card that saves (one that pays off-session too, one that declines every
 * off-session charge, or one that needs the cardholder), waits until it is saved (the receipt),
 * and enables auto top-up with a monthly limit of one or two packages. Null if a step failed.
 */
async function autoTopUpUser(ctx: FlowContext, scenario: AutoTopUpScenario): Promise<AutoTopUpRecord | null> {
  const card = CARD[scenario];
  const user = await signUp(ctx, { kind: 'sign-up (auto top-up)' });
  if (!user) return null;
  const bought = await buy(ctx, user, 'paid', paying(card));
  if (!bought?.paid || !(await waitForReceipt(ctx, user.apiKey, withinLoad(ctx, 30)))) return null;
  const record: AutoTopUpRecord = {
    user,
    scenario,
    card,
    belowCredits: BELOW_CREDITS,
    monthlyLimitCents: ctx.rng.pick(MONTHLY_LIMITS),
    enabledStatus: 0,
    crossings: 0,
    racedPurchases: 0,
  };
  ctx.journal.autoTopUps.push(record);
  // Saved while the balance (the package) is above the threshold: no top-up starts at once.
  const answer = await ctx.api.call({
    kind: 'auto top-up setting',
    method: 'PUT',
    path: '/v1/settings',
    key: user.apiKey,
    body: {
      autoTopUp: {
        enabled: true,
        belowCredits: record.belowCredits,
        packageId: 'starter',
        monthlyLimitCents: record.monthlyLimitCents,
      },
    },
  });
  record.enabledStatus = answer.status;
  return answer.status === 200 ? record : null;
}

/** Before the load: one user of each scenario, ready to cross while the faults run. */
export async function seedAutoTopUpUsers(ctx: FlowContext): Promise<AutoTopUpRecord[]> {
  const scenarios: AutoTopUpScenario[] = [
    'saved card pays',
    'races a manual purchase',
    'declines off-session',
    'needs authentication',
  ];
  const users = await Promise.all(scenarios.map((s) => autoTopUpUser(ctx, s)));
  return users.filter((u): u is AutoTopUpRecord => u !== null);
}

/**
 * One auto top-up user (a seeded one while any is left, else a new one) crosses the threshold
 * again and again: with a paying card once more than the monthly limit allows (the last
 * crossing must charge nothing), sometimes as two debits at once; with a declining card four
 * times (the third failure in a row suspends it, the fourth crossing must charge nothing); with
 * one that needs authentication one to four times. "Races a manual purchase": every other
 * crossing pays a Checkout purchase at the same moment.
 */
export async function autoTopUpFlow(ctx: FlowContext, seeded: AutoTopUpRecord[]): Promise<void> {
  const record =
    seeded.shift() ??
    (await autoTopUpUser(
      ctx,
      ctx.rng.weighted<AutoTopUpScenario>({
        'saved card pays': 2,
        'races a manual purchase': 2,
        'declines off-session': 2,
        'needs authentication': 1,
      }),
    ));
  if (!record) return;
  const { scenario } = record;
  const crossings =
    scenario === 'declines off-session'
      ? 4
      : scenario === 'needs authentication'
        ? ctx.rng.int(1, 4)
        : record.monthlyLimitCents / STARTER.priceCents + 1;
  for (let i = 0; i < crossings && Date.now() < ctx.deadlineMs; i++) {
    const how = {
      race: scenario === 'races a manual purchase' && i % 2 === 0,
      pair: scenario === 'saved card pays' && ctx.rng.chance(0.5),
    };
    if (!(await crossOnce(ctx, record, how))) return;
  }
}
