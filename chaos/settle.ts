import { Client, Connection } from '@temporalio/client';
import type { Sql } from '../db/pool';
import { announcements } from './checks/purchase-timeline';
import type { FlowContext } from './flows/context';
import { sleep } from './flows/context';
import { resendUnansweredProjects } from './flows/projects';
import { refundsPending, resendUnansweredRefunds } from './flows/refunds';
import { resendUnansweredReversals } from './flows/reversals';
import { applyAnswer } from './flows/usage';
import { grant } from './flows/users';
import { decidePending, resendUnanswered } from './flows/withdrawals';

export interface SettleResult {
  seconds: number;
  settled: boolean;
  /** What was still waiting at the deadline, when not settled. */
  waitingFor: string[];
  usageReplayed: number;
  topUpsAtSettle: number;
  /** Project starts that had no answer during the load, sent again under their key. */
  projectsResent: number;
  /** Withdrawal requests that had no answer during the load, sent again under their key. */
  withdrawalsResent: number;
  /** Operator decisions the settle phase sent (for withdrawals whose decision had no 200 answer). */
  decisionsAtSettle: number;
  /** Operator refunds and usage reversals that had no answer during the load, sent again. */
  refundsResent: number;
  reversalsResent: number;
  /** Disputes still open in Stripe when the load ended (their flow cut short), closed as planned. */
  disputesClosedAtSettle: number;
  /** Refund and dispute events with no 2xx delivery, delivered again (as Stripe's retries would). */
  redelivered: number;
}

/**
 * Usage events whose answer never came are sent again with the same eventId, as a client must:
 * the answer says whether the first attempt charged (200 replay) or not (201 now).
 */
async function replayUnanswered(ctx: FlowContext): Promise<number> {
  let n = 0;
  for (const record of ctx.journal.usage.values()) {
    if (record.outcome !== 'unknown') continue;
    const answer = await ctx.api.call({
      kind: 'usage (replay of unanswered)',
      method: 'POST',
      path: '/v1/usage',
      key: record.user.apiKey,
      body: record.body,
    });
    applyAnswer(record, answer.status, answer.body);
    n++;
  }
  return n;
}

async function unsettled(
  ctx: FlowContext,
  sql: Sql,
): Promise<{ waiting: string[]; paused: { id: string; userId: string; tasks: number }[] }> {
  const paidIds = ctx.journal.purchases.filter((p) => p.paid).map((p) => p.purchaseId);
  // Every project in the database, not only those the driver knows: a start whose answers were
  // all lost still made its project, which still holds credits while it runs.
  const projects = await sql<{ id: string; status: string; user_id: string; tasks: number }[]>`
    SELECT id, status, user_id, tasks_total AS tasks FROM projects
    WHERE status NOT IN ('completed', 'cancelled', 'failed')`;
  const purchases = await sql<{ id: string }[]>`
    SELECT id FROM purchases WHERE id = ANY(${paidIds}::uuid[]) AND completed_at IS NULL`;
  const delivered = new Set(
    ctx.standIn.deliveries
      .filter((d) => (d.status ?? 0) >= 200 && (d.status ?? 0) < 300)
      .map((d) => d.eventId),
  );
  const duePurchases = ctx.journal.purchases
    .filter(
      (p) => p.duplicate && announcements(ctx.standIn, p.sessionId).every((a) => delivered.has(a.eventId)),
    )
    .map((p) => p.purchaseId);
  // Either charge may be the one refunded (whichever announcement was credited first).
  const refunds = await sql<{ n: number }[]>`
    SELECT count(DISTINCT purchase_id)::int AS n FROM purchase_refunds
    WHERE purchase_id = ANY(${duePurchases}::uuid[]) AND reason = 'duplicate_charge'`;
  // A referee's credited purchase decides their referral and pays its reward in the same activity,
  // after the purchase is marked completed: wait for that too.
  const referrals = await sql<{ referee: string }[]>`
    SELECT r.referee_id AS referee FROM referrals r
    WHERE r.status = 'signed_up' AND (r.purchase_id IS NOT NULL OR EXISTS (
      SELECT 1 FROM purchases p WHERE p.user_id = r.referee_id AND p.completed_at IS NOT NULL))`;
  const waiting = [
    ...projects.map((p) => `project ${p.id} ${p.status}`),
    ...referrals.map((r) => `referral of ${r.referee} not decided and paid after its credited purchase`),
    ...purchases.map((p) => `paid purchase ${p.id} not completed`),
    ...(refunds[0]!.n < duePurchases.length
      ? [`${duePurchases.length - refunds[0]!.n} purchases charged twice not refunded`]
      : []),
  ];
  const paused = projects.filter((p) => p.status === 'paused');
  return { waiting, paused: paused.map((p) => ({ id: p.id, userId: p.user_id, tasks: p.tasks })) };
}

/**
 * After the faults: every answer is known, every paid purchase credited (and its referral
 * decided), every project finished, every withdrawal decided and final. A project left paused
 * because its flow ended before the top-up (the load's deadline) gets an operator grant now;
 * then it must resume by itself. A withdrawal whose decision got no 200 is decided again.
 */
export async function settle(
  ctx: FlowContext,
  sql: Sql,
  seconds: number,
  temporalAddress: string,
): Promise<SettleResult> {
  const t0 = Date.now();
  const usageReplayed = await replayUnanswered(ctx);
  const projectsResent = await resendUnansweredProjects(ctx);
  const withdrawalsResent = await resendUnanswered(ctx);
  const refundsResent = await resendUnansweredRefunds(ctx);
  const reversalsResent = await resendUnansweredReversals(ctx);
  const openAtEnd = ctx.journal.disputes.filter((d) => !d.closed).length;
  const connection = await Connection.connect({ address: temporalAddress });
  const temporal = new Client({ connection });
  const workflowDone = async (id: string) => {
    try {
      return (await temporal.workflow.getHandle(id).describe()).status.name === 'COMPLETED';
    } catch {
      return false;
    }
  };
  let topUpsAtSettle = 0;
  const toppedUp = new Set(ctx.journal.projects.filter((p) => p.toppedUp).map((p) => p.projectId));
  let waitingFor: string[] = [];
  try {
    while (Date.now() - t0 < seconds * 1000) {
      const state = await unsettled(ctx, sql);
      waitingFor = [
        ...state.waiting,
        ...(await decidePending(ctx, sql)),
        ...(await refundsPending(ctx, sql, workflowDone)),
      ];
      if (waitingFor.length === 0) break;
      for (const paused of state.paused) {
        if (toppedUp.has(paused.id)) continue;
        // Enough for every task at the largest size the driver uses (small, 25 credits).
        if (await grant(ctx, paused.userId, Math.max(1, paused.tasks) * 25)) {
          toppedUp.add(paused.id);
          const record = ctx.journal.projects.find((p) => p.projectId === paused.id);
          if (record) record.toppedUp = true;
          topUpsAtSettle++;
        }
      }
      await sleep(1000);
    }
  } finally {
    await connection.close();
  }
  return {
    seconds: (Date.now() - t0) / 1000,
    settled: waitingFor.length === 0,
    waitingFor,
    usageReplayed,
    topUpsAtSettle,
    projectsResent,
    withdrawalsResent,
    decisionsAtSettle: [...ctx.journal.withdrawals.values()].reduce(
      (n, w) => n + w.decisions.filter((d) => d.phase === 'settle').length,
      0,
    ),
    refundsResent,
    reversalsResent,
    disputesClosedAtSettle: openAtEnd,
    redelivered: ctx.journal.redelivered.size,
  };
}
