import type { Sql } from '../../db/pool';
import type { Journal, ProjectRecord } from '../journal';
import { type CheckResult, check } from './check';

interface BudgetRow {
  id: string;
  status: string;
  max_credits: number;
  charged: number;
}

/**
 * Budgets (DESIGN.md §13): no project with a budget was charged more than it (planning and
 * settled tasks, from the ledger, against its budget at the end); a project paused for its
 * budget said so, with numbers that show the next step would cross it; a budget raised to the
 * whole project's cost let it resume by itself and complete; one cancelled while paused for it
 * ended cancelled.
 */
export async function budgetChecks(sql: Sql, journal: Journal): Promise<CheckResult[]> {
  // Every project with a budget in the database, also those whose start was never answered.
  const rows = await sql<BudgetRow[]>`
    SELECT p.id::text, p.status, p.max_credits,
           coalesce((SELECT sum(t.amount) FROM transfers t
                     WHERE (t.cause_type = 'project_planning' AND t.cause_id = p.id::text)
                        OR (t.cause_type = 'project_task' AND t.cause_id LIKE p.id::text || ':%'
                            AND t.kind <> 'creator_share')), 0)::bigint AS charged
    FROM projects p WHERE p.max_credits IS NOT NULL`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const overViolations = rows.flatMap((r) =>
    r.charged <= r.max_credits
      ? []
      : [`project ${r.id} (${r.status}): charged ${r.charged}, budget ${r.max_credits}`],
  );

  const budgeted = journal.projects.filter(
    (p): p is ProjectRecord & { budget: NonNullable<ProjectRecord['budget']> } => p.budget !== undefined,
  );
  const paused = budgeted.filter((p) => p.budget.pausedFor !== undefined);
  const reasonViolations = paused.flatMap(({ projectId, budget }) => {
    const seen = budget.pausedFor!;
    return seen.budget === budget.maxCredits &&
      seen.spent <= seen.budget &&
      seen.spent + seen.needed > seen.budget
      ? []
      : [
          `project ${projectId} with a budget of ${budget.maxCredits} paused saying budget ${seen.budget}, spent ${seen.spent}, needs ${seen.needed}`,
        ];
  });

  const raised = budgeted.filter((p) => p.budget.raise?.status === 200);
  const raisedViolations = raised.flatMap(({ projectId, budget }) => {
    const row = byId.get(projectId);
    return row?.status === 'completed' && row.max_credits === budget.raise!.to
      ? []
      : [
          `project ${projectId} raised to ${budget.raise!.to} (${budget.raise!.when}) is ${row?.status ?? 'missing'} with a budget of ${row?.max_credits}`,
        ];
  });
  const when = (w: string) => raised.filter((p) => p.budget.raise!.when === w).length;

  const cancelled = budgeted.filter(
    (p) => p.intent === 'budget, cancelled while paused' && p.budget.pausedFor && p.cancelAnswered === 202,
  );
  const cancelledViolations = cancelled.flatMap(({ projectId, budget }) => {
    const row = byId.get(projectId);
    return row?.status === 'cancelled' && row.max_credits === budget.maxCredits
      ? []
      : [
          `project ${projectId} cancelled while paused for its budget is ${row?.status} with a budget of ${row?.max_credits}`,
        ];
  });

  return [
    check(
      `no project charged more than its budget: planning and task charges ≤ maxCredits (${paused.length} seen paused for it)`,
      rows.length,
      overViolations,
    ),
    check(
      'a project paused for its budget says so: budget_exhausted, its budget, what is spent, and a next step that would cross it',
      paused.length,
      reasonViolations,
    ),
    check(
      `a budget raised to the whole cost lets its project resume by itself and complete (raised while paused ${when('paused')}, while running ${when('running')}, at settle ${when('settle')})`,
      raised.length,
      raisedViolations,
    ),
    check(
      'a project cancelled while paused for its budget ends cancelled',
      cancelled.length,
      cancelledViolations,
    ),
  ];
}
