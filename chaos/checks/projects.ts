import type { Sql } from '../../db/pool';
import type { Journal } from '../journal';
import { type CheckResult, check } from './check';

interface TaskRow {
  project_id: string;
  position: number;
  status: string;
  cost: number | null;
  posted: number;
  ops: number;
}

/**
 * Projects: every completed task charged once (its hold posted by one operation, for its cost),
 * no other task charged, each project's credits_spent its planning charge and the sum of its
 * tasks, every project finished, and every project paused for lack of credits resumed by itself
 * after its top-up.
 */
export async function projectChecks(sql: Sql, journal: Journal): Promise<CheckResult[]> {
  // Every project in the database (the run's own), also those whose start was never answered.
  const tasks = await sql<TaskRow[]>`
    SELECT pt.project_id, pt.position, pt.status, pt.cost,
           coalesce(sum(t.amount), 0)::bigint AS posted, count(DISTINCT t.operation_key)::int AS ops
    FROM project_tasks pt LEFT JOIN transfers t ON t.hold_id = pt.hold_id
    GROUP BY 1, 2, 3, 4`;
  const completed = tasks.filter((t) => t.status === 'completed');
  const taskViolations = completed.flatMap((t) =>
    t.posted === t.cost && t.ops === (t.cost! > 0 ? 1 : 0)
      ? []
      : [`task ${t.project_id}#${t.position}: cost ${t.cost}, posted ${t.posted} by ${t.ops} operations`],
  );
  const otherViolations = tasks
    .filter((t) => t.status !== 'completed' && t.posted !== 0)
    .map((t) => `task ${t.project_id}#${t.position} ${t.status} but charged ${t.posted}`);
  // A project planned from a prompt spent its planning charge too (from the ledger).
  const projects = await sql<
    { id: string; status: string; spent: number; costs: number; planning: number }[]
  >`
    SELECT p.id, p.status, p.credits_spent AS spent,
           coalesce((SELECT sum(cost) FROM project_tasks WHERE project_id = p.id AND status = 'completed'), 0)::bigint AS costs,
           coalesce((SELECT sum(amount) FROM transfers
                     WHERE cause_type = 'project_planning' AND cause_id = p.id::text), 0)::bigint AS planning
    FROM projects p`;
  const byId = new Map(projects.map((p) => [p.id, p]));
  const spentViolations = projects.flatMap((p) =>
    p.spent === p.planning + p.costs
      ? []
      : [
          `project ${p.id}: credits_spent ${p.spent}, planning charged ${p.planning}, completed tasks cost ${p.costs}`,
        ],
  );
  const finished = new Set(['completed', 'cancelled', 'failed']);
  const intent = new Map(journal.projects.map((p) => [p.projectId, p.intent]));
  const unfinished = projects.flatMap((p) =>
    finished.has(p.status)
      ? []
      : [`project ${p.id} (${intent.get(p.id) ?? 'start never answered'}) is ${p.status}`],
  );
  const missing = journal.projects
    .filter((p) => !byId.has(p.projectId))
    .map((p) => `project ${p.projectId} missing`);
  const pausedThenTopped = journal.projects.filter((p) => p.sawPaused && p.toppedUp);
  const notResumed = pausedThenTopped.flatMap((p) => {
    const status = byId.get(p.projectId)?.status;
    return status === 'completed' ? [] : [`project ${p.projectId} paused, topped up, ended ${status}`];
  });
  return [
    check('every completed task charged once, for its cost', completed.length, taskViolations),
    check('no task charged unless completed', tasks.length - completed.length, otherViolations),
    check(
      "each project's credits spent = its planning charge + its completed tasks' costs",
      projects.length,
      spentViolations,
    ),
    check('every project finished (completed, cancelled or failed)', projects.length, [
      ...unfinished,
      ...missing,
    ]),
    check('every paused project resumed by itself after its top-up', pausedThenTopped.length, notResumed),
  ];
}
