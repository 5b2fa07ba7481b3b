import type { Sql } from '../../db/pool';
import type { StripeStandIn } from '../../dev/stripe';
import { CLEARING_SECONDS } from '../fleet';
import { CREDIT_VALUE_CENTS, FINAL_STATUSES } from '../flows/withdrawals';
import type { DecisionRecord, Journal, WithdrawalRecord } from '../journal';
import { type CheckResult, check } from './check';

interface WithdrawalRow {
  id: string;
  user_id: string;
  credits: number;
  amount_cents: number;
  currency: string;
  status: string;
  destination: string;
  stripe_transfer_id: string | null;
  hold_status: string | null;
  posted_amount: number | null;
}

interface PostingRow {
  hold_id: string;
  ops: number;
  n: number;
  sum: number;
  withdrawal_kind: boolean;
  from_earned: boolean;
}

const answered = (status: number) => status >= 200 && status < 500;

/**
 * Withdrawals (DESIGN.md §10, §11): every one final after settling; paid ⇔ exactly one Stripe
 * transfer and one posting of its hold, anything else ⇒ no transfer and its hold voided; Stripe
 * pays nothing else; money out never exceeds money earned; the operator's decisions (one wins,
 * a second one is a 409); a request above the withdrawable credits is refused and holds nothing.
 */
export async function withdrawalChecks(
  sql: Sql,
  journal: Journal,
  standIn: StripeStandIn,
): Promise<CheckResult[]> {
  const rows = await sql<WithdrawalRow[]>`
    SELECT w.id::text, w.user_id::text, w.credits, w.amount_cents, w.currency, w.status, w.destination,
           w.stripe_transfer_id, h.status AS hold_status, h.posted_amount
    FROM withdrawals w LEFT JOIN holds h ON h.id = w.hold_id`;
  const postings = await sql<PostingRow[]>`
    SELECT w.id::text AS hold_id, count(DISTINCT t.operation_key)::int AS ops, count(*)::int AS n,
           sum(t.amount)::bigint AS sum, bool_and(t.kind = 'withdrawal') AS withdrawal_kind,
           bool_and(a.user_id = w.user_id AND a.bucket = 'earned') AS from_earned
    FROM withdrawals w JOIN transfers t ON t.hold_id = w.hold_id JOIN accounts a ON a.id = t.debit_account_id
    GROUP BY w.id`;
  const postingOf = new Map(postings.map((p) => [p.hold_id, p]));
  const transfers = standIn.transfers;
  const transfersOf = new Map<string, typeof transfers>();
  for (const t of transfers) {
    const id = t.metadata?.withdrawalId ?? '';
    transfersOf.set(id, [...(transfersOf.get(id) ?? []), t]);
  }
  const byId = new Map(rows.map((r) => [r.id, r]));
  const paid = rows.filter((r) => r.status === 'paid');
  const released = rows.filter((r) => r.status !== 'paid' && FINAL_STATUSES.has(r.status));

  const notFinal = rows
    .filter((r) => !FINAL_STATUSES.has(r.status))
    .map((r) => `withdrawal ${r.id} is ${r.status}`);

  const paidViolations = paid.flatMap((r) => {
    const mine = transfersOf.get(r.id) ?? [];
    const t = mine[0];
    const posting = postingOf.get(r.id);
    const problems = [
      ...(mine.length === 1 ? [] : [`${mine.length} Stripe transfers`]),
      ...(t && (t.amount !== r.amount_cents || t.destination !== r.destination || t.currency !== r.currency)
        ? [
            `transfer of ${t.amount} ${t.currency} to ${t.destination}, expected ${r.amount_cents} ${r.currency} to ${r.destination}`,
          ]
        : []),
      ...(t && r.stripe_transfer_id !== t.id
        ? [`records transfer ${r.stripe_transfer_id}, Stripe made ${t.id}`]
        : []),
      ...(r.hold_status === 'posted' && r.posted_amount === r.credits
        ? []
        : [`hold ${r.hold_status} (posted ${r.posted_amount})`]),
      ...(posting?.ops === 1 && posting.sum === r.credits && posting.withdrawal_kind && posting.from_earned
        ? []
        : [
            `ledger: ${posting?.ops ?? 0} postings of ${posting?.sum ?? 0} in ${posting?.n ?? 0} transfers` +
              `${posting && !posting.from_earned ? ', not from its owner’s earned bucket' : ''}`,
          ]),
    ];
    return problems.length ? [`paid withdrawal ${r.id} of ${r.credits}: ${problems.join('; ')}`] : [];
  });

  const releasedViolations = released.flatMap((r) => {
    const mine = transfersOf.get(r.id) ?? [];
    const posting = postingOf.get(r.id);
    const holdOk = r.hold_status === 'voided' || r.hold_status === 'expired';
    return mine.length === 0 && !posting && holdOk
      ? []
      : [
          `${r.status} withdrawal ${r.id}: ${mine.length} Stripe transfers, ${posting?.sum ?? 0} credits posted, hold ${r.hold_status}`,
        ];
  });

  const orphanTransfers = transfers.flatMap((t) =>
    byId.get(t.metadata?.withdrawalId ?? '')?.status === 'paid'
      ? []
      : [
          `Stripe transfer ${t.id} of ${t.amount} to ${t.destination} for withdrawal ${t.metadata?.withdrawalId ?? '?'}`,
        ],
  );

  const answers = journal.withdrawalRequests.filter((r) => r.amountCents !== undefined);
  const amountViolations = [
    ...rows.flatMap((r) =>
      r.amount_cents === r.credits * CREDIT_VALUE_CENTS
        ? []
        : [`withdrawal ${r.id}: ${r.credits} credits, ${r.amount_cents} cents`],
    ),
    ...answers.flatMap((r) =>
      r.amountCents === r.credits * CREDIT_VALUE_CENTS
        ? []
        : [`answer for ${r.id}: ${r.credits} credits, amountCents ${r.amountCents}`],
    ),
  ];

  const moneyOut = await moneyOutViolations(sql, rows, transfers);
  const decisions = decisionViolations(journal, byId);
  const refusals = refusalViolations(journal, rows);
  const seen = [...journal.withdrawals.values()].filter((w) => w.seenFinal !== undefined);
  const seenViolations = seen.flatMap((w) =>
    byId.get(w.id)?.status === w.seenFinal
      ? []
      : [`withdrawal ${w.id}: its owner saw ${w.seenFinal}, the database says ${byId.get(w.id)?.status}`],
  );
  const statusCounts = ['paid', 'rejected', 'failed', 'expired']
    .map((s) => `${rows.filter((r) => r.status === s).length} ${s}`)
    .join(', ');

  return [
    check(`every withdrawal final after settling (${statusCounts})`, rows.length, notFinal),
    check(
      'a paid withdrawal has exactly one Stripe transfer (its amount, currency, account) and its hold posted once, for its credits, from the earned bucket',
      paid.length,
      paidViolations,
    ),
    check(
      'a rejected, failed or expired withdrawal has no Stripe transfer and its hold voided, nothing posted',
      released.length,
      releasedViolations,
    ),
    check('every Stripe transfer pays a paid withdrawal', transfers.length, orphanTransfers),
    check(
      `amountCents = credits × ${CREDIT_VALUE_CENTS} (every withdrawal and every answer)`,
      rows.length + answers.length,
      amountViolations,
    ),
    check(
      "money out ≤ money earned: each user's paid withdrawals ≤ credits into their earned bucket; Stripe paid each account what the ledger posted",
      moneyOut.checked,
      moneyOut.violations,
    ),
    ...decisions,
    check(
      'a withdrawal asked above the withdrawable credits is refused (402) and holds nothing: before clearing, over the withdrawable, two at once over it',
      refusals.checked,
      refusals.violations,
    ),
    check(
      'GET /v1/withdrawals/:id showed its owner the final status the database has',
      seen.length,
      seenViolations,
    ),
  ];
}

/** Per user: what the ledger paid out ≤ what came into the earned bucket; per account: Stripe's transfers = the ledger's postings. */
async function moneyOutViolations(
  sql: Sql,
  rows: WithdrawalRow[],
  transfers: StripeStandIn['transfers'],
): Promise<{ checked: number; violations: string[] }> {
  const users = [...new Set(rows.map((r) => r.user_id))];
  const flows = await sql<{ user_id: string; earned_in: number; paid_out: number }[]>`
    SELECT a.user_id::text,
           coalesce((SELECT sum(amount) FROM transfers WHERE credit_account_id = a.id), 0)::bigint AS earned_in,
           coalesce((SELECT sum(amount) FROM transfers WHERE debit_account_id = a.id AND kind = 'withdrawal'), 0)::bigint AS paid_out
    FROM accounts a WHERE a.bucket = 'earned' AND a.user_id = ANY(${users}::uuid[])`;
  const flowOf = new Map(flows.map((f) => [f.user_id, f]));
  const violations: string[] = [];
  for (const user of users) {
    const f = flowOf.get(user) ?? { earned_in: 0, paid_out: 0 };
    const mine = rows.filter((r) => r.user_id === user);
    const accounts = new Set(mine.map((r) => r.destination));
    const stripeCents = transfers
      .filter((t) => accounts.has(t.destination))
      .reduce((s, t) => s + t.amount, 0);
    if (f.paid_out > f.earned_in)
      violations.push(`user ${user}: paid out ${f.paid_out}, earned ${f.earned_in}`);
    if (stripeCents !== f.paid_out * CREDIT_VALUE_CENTS)
      violations.push(
        `user ${user}: Stripe paid ${stripeCents} cents, the ledger posted ${f.paid_out} credits`,
      );
  }
  return { checked: users.length, violations };
}

function outcomeOf(w: WithdrawalRecord, d: DecisionRecord): string {
  if (d.decision === 'reject') return 'rejected';
  return w.transferFault ? 'failed' : 'paid';
}

/** The operator's decisions against what happened. */
function decisionViolations(journal: Journal, byId: Map<string, WithdrawalRow>): CheckResult[] {
  const decided = [...journal.withdrawals.values()].filter((w) => w.decisions.length > 0);
  const outcome: string[] = [];
  const second: string[] = [];
  let secondChecked = 0;
  const race: string[] = [];
  let raceChecked = 0;
  let faulted = 0;
  for (const w of decided) {
    const final = byId.get(w.id)?.status;
    const winners = w.decisions.filter((d) => d.status === 200);
    if (w.transferFault) faulted++;
    if (winners.length > 1)
      outcome.push(`withdrawal ${w.id}: ${winners.map((d) => d.decision).join(' and ')} both answered 200`);
    const expected = new Set((winners.length === 1 ? winners : w.decisions).map((d) => outcomeOf(w, d)));
    if (final && !expected.has(final))
      outcome.push(
        `withdrawal ${w.id} (${w.scenario}${w.transferFault ? ', transfer made to fail' : ''}): ${final}, decisions ${w.decisions.map((d) => `${d.decision}→${d.status}`).join(', ')}`,
      );
    for (const d of w.decisions) {
      if (!d.afterA200 || !answered(d.status)) continue;
      secondChecked++;
      if (d.status !== 409)
        second.push(`withdrawal ${w.id}: ${d.decision} (${d.phase}) after a 200 answered ${d.status}`);
    }
    const racing = w.decisions.filter((d) => d.phase === 'race');
    if (racing.length === 2 && racing.every((d) => answered(d.status))) {
      raceChecked++;
      const statuses = racing.map((d) => d.status).sort();
      if (statuses[0] !== 200 || statuses[1] !== 409)
        race.push(`withdrawal ${w.id}: approve ${racing[0]!.status}, reject ${racing[1]!.status}`);
    }
  }
  return [
    check(
      `the operator's decision is what happens: at most one answered 200; approved → paid (failed when its transfer was made to fail: ${faulted}), rejected → rejected`,
      decided.length,
      outcome,
    ),
    check('a decision sent after one answered 200 is a 409', secondChecked, second),
    check('approve racing reject: exactly one wins (200), the other gets 409', raceChecked, race),
  ];
}

/**
 * Requests that ask for more than is withdrawable: none may be held. Asked at once after the
 * earning charge, an answer 2xx before the credits could have cleared (CLEARING_SECONDS after the
 * charge was sent) is a violation; above what the balance showed withdrawable, any 2xx is; of two
 * at once that together exceed it, at most one may be made (the other answered 402). And no
 * withdrawal exists that no request was answered 2xx for, beyond requests never answered.
 */
function refusalViolations(
  journal: Journal,
  rows: WithdrawalRow[],
): { checked: number; violations: string[] } {
  const violations: string[] = [];
  const requests = journal.withdrawalRequests;
  const ok = (status: number) => status === 200 || status === 201;
  let checked = 0;
  for (const r of requests) {
    if (r.ask === 'before clearing' && answered(r.status)) {
      checked++;
      if (ok(r.status) && r.answeredAtMs < r.earnedSentAtMs! + CLEARING_SECONDS * 1000)
        violations.push(
          `withdrawal ${r.id} held ${r.answeredAtMs - r.earnedSentAtMs!} ms after its earnings were charged (they clear after ${CLEARING_SECONDS} s)`,
        );
    }
    if (r.ask === 'over the withdrawable' && answered(r.status)) {
      checked++;
      if (r.status !== 402)
        violations.push(`withdrawal of ${r.credits} above the withdrawable answered ${r.status}`);
    }
  }
  const pairs = new Map<string, typeof requests>();
  for (const r of requests.filter((x) => x.ask === 'two at once'))
    pairs.set(r.user.id, [...(pairs.get(r.user.id) ?? []), r]);
  for (const [user, pair] of pairs) {
    checked++;
    const made = pair.filter((r) => ok(r.status));
    if (made.length > 1)
      violations.push(`user ${user}: both of two withdrawals at once over the withdrawable were held`);
    if (
      made.length === 1 &&
      pair.every((r) => answered(r.status) && !r.resentAtSettle) &&
      !pair.some((r) => r.status === 402)
    )
      violations.push(`user ${user}: two at once answered ${pair.map((r) => r.status).join(' and ')}`);
  }
  const users = new Set(requests.map((r) => r.user.id));
  for (const user of users) {
    const mine = requests.filter((r) => r.user.id === user);
    const known = new Set(mine.flatMap((r) => (r.id ? [r.id] : [])));
    const unknown = mine.filter((r) => !answered(r.status)).length;
    const extra = rows.filter((w) => w.user_id === user && !known.has(w.id));
    checked++;
    if (extra.length > unknown)
      violations.push(
        `user ${user}: withdrawals ${extra.map((w) => w.id).join(', ')} answer no request (${unknown} never answered)`,
      );
  }
  return { checked, violations };
}
