import { uuidFromSeed } from '../../db/ids';
import type { Sql } from '../../db/pool';
import type { FlowContext } from '../flows/context';
import { REFUND_FINAL, stripeCharge, stripeRefund } from '../flows/refunds';
import type { Journal, OperatorRefundRequestRecord } from '../journal';
import { type CheckResult, check } from './check';

interface RefundRow {
  id: string;
  purchase_id: string;
  user_id: string;
  credits: number;
  amount_cents: number;
  status: string;
  hold_id: string;
  stripe_refund_id: string | null;
  failure_reason: string | null;
  hold_status: string | null;
  posted_amount: number | null;
  created_at: Date;
}

interface PostingRow {
  hold_id: string;
  ops: number;
  sum: number;
  kinds: string;
  from_purchased: boolean;
}

interface PurchaseRow {
  id: string;
  user_id: string;
  credits: number;
  price_cents: number;
  status: string;
  payment_intent_id: string | null;
}

const ok2xx = (s: number) => s === 200 || s === 201;
const answered = (s: number) => s >= 200 && s < 500;
/** The refund a request's Idempotency-Key names (app/refunds.ts refundId). */
const refundIdOf = (key: string) => uuidFromSeed(`operator-refund:${key}`);

/**
 * Operator refunds and Dashboard refunds (DESIGN.md §10, §12): per purchase, never more credits
 * called back than it had, and the money Stripe refunded is exactly the succeeded operator refunds'
 * and the Dashboard's; each operator refund final, succeeded ⇔ one Stripe refund and its hold posted
 * once, failed ⇒ nothing refunded and its hold voided; the money for its credits at most their
 * share of the price (the last refund of a purchase may take the cents earlier parts rounded away);
 * a refused request moved nothing; two operators at once, one wins; one key, one refund.
 */
export async function refundChecks(sql: Sql, journal: Journal, ctx: FlowContext): Promise<CheckResult[]> {
  const refunds = await sql<RefundRow[]>`
    SELECT r.id::text, r.purchase_id::text, r.user_id::text, r.credits, r.amount_cents, r.status,
           r.hold_id::text, r.stripe_refund_id, r.failure_reason, h.status AS hold_status, h.posted_amount,
           r.created_at
    FROM operator_refunds r LEFT JOIN holds h ON h.id = r.hold_id ORDER BY r.created_at, r.id`;
  const postings = await sql<PostingRow[]>`
    SELECT t.hold_id::text, count(DISTINCT t.operation_key)::int AS ops, sum(t.amount)::bigint AS sum,
           string_agg(DISTINCT t.kind, ',') AS kinds,
           bool_and(a.user_id = r.user_id AND a.bucket = 'purchased') AS from_purchased
    FROM operator_refunds r JOIN transfers t ON t.hold_id = r.hold_id JOIN accounts a ON a.id = t.debit_account_id
    GROUP BY t.hold_id`;
  const postingOf = new Map(postings.map((p) => [p.hold_id, p]));
  const byId = new Map(refunds.map((r) => [r.id, r]));

  // Every purchase refunds or disputes touched, and every purchase the driver refunded in the Dashboard.
  const ids = [
    ...new Set([
      ...refunds.map((r) => r.purchase_id),
      ...journal.dashboardRefunds.map((d) => d.purchaseId),
      ...journal.disputes.map((d) => d.purchaseId),
    ]),
  ];
  const purchases = await sql<PurchaseRow[]>`
    SELECT id::text, user_id::text, credits, price_cents, status, payment_intent_id
    FROM purchases WHERE id = ANY(${ids}::uuid[])`;
  const steps = await sql<{ id: string; purchase_id: string; reason: string; credits_due: number }[]>`
    SELECT id::text, purchase_id::text, reason, credits_due FROM purchase_refunds
    WHERE purchase_id = ANY(${ids}::uuid[]) AND reason IN ('purchase_refunded', 'operator_refund')`;
  const disputes = await sql<{ id: string; purchase_id: string; status: string; credits_due: number }[]>`
    SELECT id, purchase_id::text, status, credits_due FROM disputes WHERE purchase_id = ANY(${ids}::uuid[])`;
  // Credits that left each purchase's buyer for a refund or a dispute of that purchase, net of any given back.
  const taken = await sql<{ purchase_id: string; net: number }[]>`
    WITH causes AS (
      SELECT 'refund' AS type, id::text AS id, purchase_id FROM operator_refunds
      -- An operator refund's step there has the refund's own id: only the Dashboard's steps are added.
      UNION ALL SELECT 'refund', id::text, purchase_id FROM purchase_refunds WHERE reason = 'purchase_refunded'
      UNION ALL SELECT 'dispute', id, purchase_id FROM disputes)
    SELECT c.purchase_id::text,
           sum(CASE WHEN d.user_id IS NOT NULL THEN t.amount ELSE 0 END
             - CASE WHEN k.user_id IS NOT NULL THEN t.amount ELSE 0 END)::bigint AS net
    FROM causes c JOIN transfers t ON t.cause_type = c.type AND t.cause_id = c.id
    JOIN accounts d ON d.id = t.debit_account_id JOIN accounts k ON k.id = t.credit_account_id
    WHERE c.purchase_id = ANY(${ids}::uuid[])
    GROUP BY c.purchase_id`;
  const takenOf = new Map(taken.map((t) => [t.purchase_id, t.net]));

  // ── Per purchase: credits and money ──
  const perPurchase: string[] = [];
  const statusViolations: string[] = [];
  let chargesRefunded = 0;
  for (const p of purchases) {
    const mine = refunds.filter((r) => r.purchase_id === p.id);
    const succeeded = mine.filter((r) => r.status === 'succeeded');
    const dashboard = journal.dashboardRefunds.filter((d) => d.purchaseId === p.id && d.stripeRefundId);
    const due =
      mine.filter((r) => r.status !== 'failed').reduce((s, r) => s + r.credits, 0) +
      steps
        .filter((s) => s.purchase_id === p.id && s.reason === 'purchase_refunded')
        .reduce((s, r) => s + r.credits_due, 0) +
      disputes
        .filter((d) => d.purchase_id === p.id && d.status !== 'won')
        .reduce((s, d) => s + d.credits_due, 0);
    const net = takenOf.get(p.id) ?? 0;
    const charge = p.payment_intent_id ? await stripeCharge(ctx, p.payment_intent_id) : null;
    const refundedEvents = charge
      ? ctx.standIn.events.filter(
          (e) => e.type === 'charge.refunded' && (e.data.object as { id?: string }).id === charge.id,
        ).length
      : 0;
    const expectedCents =
      succeeded.reduce((s, r) => s + r.amount_cents, 0) + dashboard.reduce((s, d) => s + d.amountCents, 0);
    const problems = [
      ...(due <= p.credits ? [] : [`credits called back ${due} > its ${p.credits}`]),
      ...(net <= p.credits ? [] : [`credits taken back ${net} > its ${p.credits}`]),
      ...(!charge
        ? ['no charge in Stripe']
        : [
            ...(charge.refunded <= p.price_cents
              ? []
              : [`Stripe refunded ${charge.refunded} > price ${p.price_cents}`]),
            ...(charge.refunded === expectedCents
              ? []
              : [
                  `Stripe refunded ${charge.refunded}, succeeded operator refunds ${succeeded.map((r) => r.amount_cents).join('+') || 0} + Dashboard ${dashboard.map((d) => d.amountCents).join('+') || 0}`,
                ]),
            ...(refundedEvents === succeeded.length + dashboard.length
              ? []
              : [
                  `${refundedEvents} Stripe refunds, ${succeeded.length} operator refunds succeeded and ${dashboard.length} in the Dashboard`,
                ]),
          ]),
    ];
    if (charge && charge.refunded > 0) chargesRefunded++;
    if (problems.length > 0) perPurchase.push(`purchase ${p.id}: ${problems.join('; ')}`);
    if (charge) {
      const expected =
        charge.refunded === 0
          ? 'completed'
          : charge.refunded >= p.price_cents
            ? 'refunded'
            : 'partially_refunded';
      if (p.status !== expected)
        statusViolations.push(
          `purchase ${p.id}: ${p.status}, Stripe refunded ${charge.refunded} of ${p.price_cents}`,
        );
    }
  }

  // ── Each operator refund ──
  const notFinal = refunds
    .filter((r) => !REFUND_FINAL.has(r.status))
    .map((r) => `refund ${r.id} ${r.status}`);
  const succeeded = refunds.filter((r) => r.status === 'succeeded');
  const failed = refunds.filter((r) => r.status === 'failed');
  const purchaseOf = new Map(purchases.map((p) => [p.id, p]));
  const stripeIds = new Map<string, string>();
  const succeededViolations: string[] = [];
  for (const r of succeeded) {
    const p = purchaseOf.get(r.purchase_id);
    const s = r.stripe_refund_id ? await stripeRefund(ctx, r.stripe_refund_id) : null;
    const posting = postingOf.get(r.hold_id);
    const twin = r.stripe_refund_id ? stripeIds.get(r.stripe_refund_id) : undefined;
    if (r.stripe_refund_id) stripeIds.set(r.stripe_refund_id, r.id);
    const problems = [
      ...(s ? [] : [`Stripe refund ${r.stripe_refund_id} not found`]),
      ...(s && (s.amount !== r.amount_cents || s.paymentIntent !== p?.payment_intent_id)
        ? [
            `Stripe refunded ${s.amount} of ${s.paymentIntent}, expected ${r.amount_cents} of ${p?.payment_intent_id}`,
          ]
        : []),
      ...(s && (s.metadata.refundId !== r.id || s.metadata.purchaseId !== r.purchase_id)
        ? [`Stripe refund metadata ${JSON.stringify(s.metadata)}`]
        : []),
      ...(twin ? [`the same Stripe refund as refund ${twin}`] : []),
      ...(r.hold_status === 'posted' && r.posted_amount === r.credits
        ? []
        : [`hold ${r.hold_status} (posted ${r.posted_amount})`]),
      ...(posting?.ops === 1 && posting.sum === r.credits && posting.from_purchased
        ? []
        : [
            `ledger: ${posting?.ops ?? 0} postings of ${posting?.sum ?? 0} (${posting?.kinds ?? 'none'})${posting && !posting.from_purchased ? ', not from its buyer’s purchased bucket' : ''}`,
          ]),
    ];
    if (problems.length > 0)
      succeededViolations.push(`succeeded refund ${r.id} of ${r.credits}: ${problems.join('; ')}`);
  }
  const failedViolations = failed.flatMap((r) => {
    const posting = postingOf.get(r.hold_id);
    const holdOk = r.hold_status === 'voided' || r.hold_status === 'expired';
    return r.stripe_refund_id === null && !posting && holdOk
      ? []
      : [
          `failed refund ${r.id}: Stripe refund ${r.stripe_refund_id}, ${posting?.sum ?? 0} credits posted, hold ${r.hold_status}`,
        ];
  });

  // ── Money back ≤ the unused credits' share ──
  const shareViolations: string[] = [];
  let lastParts = 0;
  for (const r of refunds.filter((x) => x.status !== 'failed')) {
    const p = purchaseOf.get(r.purchase_id);
    if (!p) continue;
    const share = Math.floor((r.credits * p.price_cents) / p.credits);
    if (r.amount_cents <= share) continue;
    // app/refunds.ts refundAmount: the refund that takes every credit left gets every cent left,
    // so parts rounded down before still add up to the price; each part rounded away under a cent.
    const others =
      refunds.filter((x) => x.purchase_id === p.id && x.id !== r.id && x.status !== 'failed').length +
      steps.filter((s) => s.purchase_id === p.id && s.reason === 'purchase_refunded').length +
      disputes.filter((d) => d.purchase_id === p.id && d.status !== 'won').length;
    const calledBack =
      refunds
        .filter((x) => x.purchase_id === p.id && x.status !== 'failed')
        .reduce((s, x) => s + x.credits, 0) +
      steps
        .filter((s) => s.purchase_id === p.id && s.reason === 'purchase_refunded')
        .reduce((s, x) => s + x.credits_due, 0) +
      disputes
        .filter((d) => d.purchase_id === p.id && d.status !== 'won')
        .reduce((s, d) => s + d.credits_due, 0);
    if (calledBack === p.credits && r.amount_cents <= share + others) {
      lastParts++;
      continue;
    }
    shareViolations.push(
      `refund ${r.id}: ${r.amount_cents} cents for ${r.credits} credits (share ${share}) of a purchase of ${p.credits} for ${p.price_cents}; ${calledBack} credits called back, ${others} other parts`,
    );
  }

  // ── The requests: what was answered ──
  const requests = journal.refundRequests;
  const refused = requests.filter((r) => r.status === 409);
  const refusedViolations = await refusedMovedNothing(sql, refused, byId);
  const askViolations = requests.flatMap((r) => askViolation(r, byId));
  const asked = requests.filter((r) => answered(r.status)).length;
  const race = raceViolations(requests);
  const sameKey = requests.filter((r) => r.ask === 'same key' && answered(r.status));
  const sameKeyViolations = sameKey.flatMap((r) =>
    r.status === 200 && r.id === refundIdOf(r.key)
      ? []
      : [`key ${r.key} sent again: ${r.status}, refund ${r.id}`],
  );
  const seen = requests.filter((r) => r.seenFinal !== undefined && r.id);
  const seenViolations = seen.flatMap((r) =>
    byId.get(r.id!)?.status === r.seenFinal
      ? []
      : [`refund ${r.id}: the operator saw ${r.seenFinal}, the database says ${byId.get(r.id!)?.status}`],
  );
  const refusedByStripe = requests.filter((r) => r.ask === 'refused by Stripe' && r.id).length;
  const counts = ['succeeded', 'failed'].map((s) => `${refunds.filter((r) => r.status === s).length} ${s}`);

  return [
    check(`every operator refund final after settling (${counts.join(', ')})`, refunds.length, notFinal),
    check(
      `per purchase: credits called back (operator refunds, Dashboard refunds, disputes not won) and credits taken back ≤ its credits; Stripe refunded ≤ its price, exactly the succeeded operator refunds' amounts + the Dashboard's, one Stripe refund each (${journal.dashboardRefunds.filter((d) => d.stripeRefundId).length} Dashboard refunds, ${chargesRefunded} charges refunded)`,
      purchases.length,
      perPurchase,
    ),
    check(
      "a purchase's status follows what Stripe refunded: completed (none), partially_refunded, refunded (all)",
      purchases.length,
      statusViolations,
    ),
    check(
      'a succeeded operator refund has exactly one Stripe refund (its amount, payment, metadata) and its hold posted once, for its credits, from the purchased bucket',
      succeeded.length,
      succeededViolations,
    ),
    check(
      `a failed operator refund has no Stripe refund and its hold voided, nothing posted (${refusedByStripe} refused by Stripe through refundFaults)`,
      failed.length,
      failedViolations,
    ),
    check(
      `money back ≤ the unused credits' share: amountCents ≤ floor(credits × price / package credits), or it took the purchase's last credits and the cents earlier parts rounded away (${lastParts})`,
      refunds.length - failed.length,
      shareViolations,
    ),
    check(
      'each request answered as asked: above refundable → 409; within what was refundable → made, for the credits asked (or all refundable); refused by Stripe, or asked while the charge is disputed → failed',
      asked,
      askViolations,
    ),
    check(
      'a refund request answered 409 moved nothing (no refund, no hold, no transfer)',
      refused.length,
      refusedViolations,
    ),
    check(
      'two operators refunding one purchase at once (each over half): exactly one made, the other 409',
      race.checked,
      race.violations,
    ),
    check(
      'the same Idempotency-Key sent again: a 200 naming the same refund',
      sameKey.length,
      sameKeyViolations,
    ),
    check(
      'GET /v1/admin/refunds/:id showed the operator the final status the database has',
      seen.length,
      seenViolations,
    ),
  ];
}

/** What the driver knew when it asked, against the answer and the refund it made. */
function askViolation(r: OperatorRefundRequestRecord, byId: Map<string, RefundRow>): string[] {
  if (!answered(r.status)) return [];
  const row = r.id ? byId.get(r.id) : undefined;
  if (ok2xx(r.status) && !row) return [`${r.ask} ${r.key}: answered ${r.status} but no refund ${r.id}`];
  if (r.ask === 'above refundable')
    return r.status === 409
      ? []
      : [`${r.credits} credits above ${r.refundableSeen} refundable answered ${r.status}`];
  if (r.ask === 'refused by Stripe')
    return row?.status === 'failed' && /Stripe refused/.test(row.failure_reason ?? '')
      ? []
      : [`refund refused by Stripe ${r.id}: ${row?.status} (${row?.failure_reason}), answered ${r.status}`];
  // Judged only when the refund ended while the dispute was still open (the flow closes it after
  // waiting): one re-sent at settle, or still on its way to Stripe then, may rightly succeed.
  if (
    r.ask === 'while disputed' &&
    row &&
    !r.resentAtSettle &&
    r.seenFinal !== undefined &&
    r.seenFinal !== 'failed'
  )
    return [`refund ${row.id} asked while its charge was disputed: ${r.seenFinal} before the dispute closed`];
  if (r.ask === 'refund' && r.refundableSeen !== undefined && !r.resentAtSettle) {
    const want = r.credits ?? r.refundableSeen;
    if (!ok2xx(r.status)) return [`refund of ${want} of ${r.refundableSeen} refundable answered ${r.status}`];
    if (row && row.credits !== want) return [`refund ${row.id}: ${row.credits} credits, asked ${want}`];
  }
  if (
    row &&
    r.answered &&
    (r.answered.credits !== row.credits || r.answered.amountCents !== row.amount_cents)
  )
    return [
      `refund ${row.id}: answered ${r.answered.credits} for ${r.answered.amountCents}, stored ${row.credits} for ${row.amount_cents}`,
    ];
  return [];
}

async function refusedMovedNothing(
  sql: Sql,
  refused: OperatorRefundRequestRecord[],
  byId: Map<string, RefundRow>,
): Promise<string[]> {
  // A same-key copy of a refund that was made is never a 409; any 409 names a refund that must not exist.
  const ids = refused.map((r) => refundIdOf(r.key));
  const holds = await sql<{ id: string; status: string; posted: number }[]>`
    SELECT h.id::text, h.status,
           coalesce((SELECT sum(amount) FROM transfers t WHERE t.hold_id = h.id), 0)::bigint AS posted
    FROM holds h WHERE h.id = ANY(${ids}::uuid[])`;
  const holdOf = new Map(holds.map((h) => [h.id, h]));
  return refused.flatMap((r) => {
    const id = refundIdOf(r.key);
    const h = holdOf.get(id);
    const problems = [
      ...(byId.has(id) ? [`a refund ${id} (${byId.get(id)!.status})`] : []),
      ...(h && (h.status === 'pending' || h.status === 'posted' || h.posted > 0)
        ? [`hold ${h.status}, ${h.posted} posted`]
        : []),
    ];
    return problems.length ? [`${r.ask} key ${r.key} answered 409: ${problems.join('; ')}`] : [];
  });
}

/** Pairs of racing requests (one purchase, two keys, sent at once), both answered during the load. */
function raceViolations(requests: OperatorRefundRequestRecord[]): { checked: number; violations: string[] } {
  const pairs = new Map<string, OperatorRefundRequestRecord[]>();
  for (const r of requests.filter((x) => x.ask === 'race'))
    pairs.set(r.purchase.purchaseId, [...(pairs.get(r.purchase.purchaseId) ?? []), r]);
  let checked = 0;
  const violations: string[] = [];
  for (const [purchase, pair] of pairs) {
    const made = pair.filter((r) => ok2xx(r.status));
    checked++;
    if (made.length > 1) violations.push(`purchase ${purchase}: both racing refunds were made`);
    if (
      pair.every((r) => answered(r.status) && !r.resentAtSettle) &&
      !(made.length === 1 && pair.some((r) => r.status === 409))
    )
      violations.push(
        `purchase ${purchase}: racing refunds answered ${pair.map((r) => r.status).join(' and ')}`,
      );
  }
  return { checked, violations };
}
