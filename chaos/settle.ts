import { Client, Connection } from '@temporalio/client';
import type { Sql } from '../db/pool';
import { autoTopUpProgressQuery, workflowIds } from '../workflows/messages';
import { announcements } from './checks/purchase-timeline';
import { raiseBudget } from './flows/budgets';
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
): Promise<{
  waiting: string[];
  paused: { id: string; userId: string; tasks: number; reason: string | null }[];
}> {
  const paidIds = ctx.journal.purchases.filter((p) => p.paid).map((p) => p.purchaseId);
  // Every project in the database, not only those the driver knows: a start whose answers were
  // all lost still made its project, which still holds credits while it runs.
  const projects = await sql<
    { id: string; status: string; user_id: string; tasks: number; reason: string | null }[]
  >`
    SELECT id, status, user_id, tasks_total AS tasks, paused_reason->>'code' AS reason FROM projects
    WHERE status NOT IN ('completed', 'cancelled', 'failed')`;
  // A project can read cancelled while a task it ran is still being wound down: its worker was
  // killed under it, so the workflow learns of the task's end only at the activity's heartbeat
  // timeout, and then releases its hold. Settled means that has happened too.
  const windingDown = await sql<{ project: string; hold: string }[]>`
    SELECT p.id AS project, h.id AS hold FROM holds h
    JOIN project_tasks pt ON pt.hold_id = h.id JOIN projects p ON p.id = pt.project_id
    WHERE h.status = 'pending' AND p.status IN ('completed', 'cancelled', 'failed')`;
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
  // An automatic purchase is charged and credited (or failed) by its user's auto top-up workflow.
  const automatic = await sql<{ id: string }[]>`
    SELECT id FROM purchases WHERE origin = 'auto_top_up' AND status = 'pending'`;
  const waiting = [
    ...projects.map((p) => `project ${p.id} ${p.status}${p.reason ? ` (${p.reason})` : ''}`),
    ...windingDown.map((w) => `project ${w.project} finished, its task's hold ${w.hold} still pending`),
    ...automatic.map((p) => `automatic purchase ${p.id} still being charged`),
    ...referrals.map((r) => `referral of ${r.referee} not decided and paid after its credited purchase`),
    ...purchases.map((p) => `paid purchase ${p.id} not completed`),
    ...(refunds[0]!.n < duePurchases.length
      ? [`${duePurchases.length - refunds[0]!.n} purchases charged twice not refunded`]
      : []),
  ];
  const paused = projects.filter((p) => p.status === 'paused');
  return {
    waiting,
    paused: paused.map((p) => ({ id: p.id, userId: p.user_id, tasks: p.tasks, reason: p.reason })),
  };
}

/**
 * `project <id> …` with its workflow's state: status, the last events, its pending activities and
 * the last workflow task failure (a nondeterminism error shows there, not in the database).
 */
async function withStory(temporal: Client, waiting: string): Promise<string> {
  const id = /^project ([0-9a-f-]{36}) /.exec(waiting)?.[1];
  if (!id) return waiting;
  try {
    const handle = temporal.workflow.getHandle(workflowIds.project(id));
    const described = await handle.describe();
    const pending = (described.raw.pendingActivities ?? []).map(
      (a) =>
        `${a.activityType?.name} attempt ${a.attempt}${a.lastFailure?.message ? ` (${a.lastFailure.message})` : ''}`,
    );
    const events = (await handle.fetchHistory()).events ?? [];
    // Each history event carries exactly one set of attributes, named after its type.
    const last = events.slice(-6).map(
      (e) =>
        Object.entries(e)
          .find(([k, v]) => k.endsWith('EventAttributes') && v)?.[0]
          .replace(/EventAttributes$/, '') ?? '?',
    );
    const failed = [...events]
      .reverse()
      .find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
    const why = failed?.failure?.message
      ? `; last workflow task failure: ${failed.failure.message.slice(0, 400)}`
      : '';
    return `${waiting}: workflow ${described.status.name}, ${events.length} events, last ${last.join(' → ')}; pending activities: ${pending.join(', ') || 'none'}${why}`;
  } catch (error) {
    return `${waiting}: workflow unknown (${error instanceof Error ? error.message : String(error)})`;
  }
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
  // A crossing whose top-up the workflow took but has not opened a purchase for yet (a worker was
  // killed under it) is seen only by asking the workflow.
  const autoTopUpsInFlight = async () => {
    const waiting: string[] = [];
    for (const record of ctx.journal.autoTopUps.filter((r) => r.crossings > 0)) {
      try {
        const progress = await temporal.workflow
          .getHandle(workflowIds.autoTopUp(record.user.id))
          .query(autoTopUpProgressQuery);
        if (progress.inFlight) waiting.push(`auto top-up of user ${record.user.id} in flight`);
      } catch {
        // No workflow: no crossing reached it (a lost signal charges nothing, which is allowed).
      }
    }
    return waiting;
  };
  let topUpsAtSettle = 0;
  const toppedUp = new Set(ctx.journal.projects.filter((p) => p.toppedUp).map((p) => p.projectId));
  const budgetRaised = new Set<string>();
  let waitingFor: string[] = [];
  try {
    while (Date.now() - t0 < seconds * 1000) {
      const state = await unsettled(ctx, sql);
      waitingFor = [
        ...state.waiting,
        ...(await decidePending(ctx, sql)),
        ...(await refundsPending(ctx, sql, workflowDone)),
        ...(await autoTopUpsInFlight()),
      ];
      if (waitingFor.length === 0) break;
      for (const paused of state.paused) {
        if (paused.reason === 'budget_exhausted') {
          // Only its budget stops it (a grant would not): raised to the whole project's cost.
          // One whose raise to that cost was accepted already stays paused: the checks report it.
          const record = ctx.journal.projects.find((p) => p.projectId === paused.id);
          if (!record?.budget || record.budget.raise?.status === 200 || budgetRaised.has(paused.id)) continue;
          // Counted by the budget checks (raise.when = 'settle'); sent again while unanswered.
          const status = await raiseBudget(ctx, record, record.budget.total, 'settle');
          if (status !== 0 && status < 500) budgetRaised.add(paused.id);
          continue;
        }
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
    // Not settled: what each unfinished project's workflow is doing, so the report can be read alone.
    if (waitingFor.length > 0) waitingFor = await Promise.all(waitingFor.map((w) => withStory(temporal, w)));
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
