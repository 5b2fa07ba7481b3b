import {
  IdempotencyConflict,
  type PausedReason,
  type ProjectProgress,
  type ProjectStatus,
  type TaskSize,
} from '../domain';
import type { Sql } from './pool';

export type { PausedReason, ProjectStatus } from '../domain';

export interface ProjectView extends ProjectProgress {
  id: string;
  name: string;
  failureReason: string | null;
  rateCardVersion: number;
  createdAt: string;
  updatedAt: string;
}

export interface PlannedTask {
  title: string;
  size: TaskSize;
  estimate: number;
}

interface ProjectRow {
  id: string;
  user_id: string;
  name: string;
  status: ProjectStatus;
  tasks_completed: number;
  tasks_total: number;
  credits_spent: number;
  credits_reserved: number;
  paused_reason: PausedReason | null;
  failure_reason: string | null;
  rate_card_version: number;
  created_at: Date;
  updated_at: Date;
}

function toView(r: ProjectRow): ProjectView & { userId: string } {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    status: r.status,
    tasksCompleted: r.tasks_completed,
    tasksTotal: r.tasks_total,
    creditsSpent: r.credits_spent,
    creditsReserved: r.credits_reserved,
    pausedReason: r.paused_reason,
    failureReason: r.failure_reason,
    rateCardVersion: r.rate_card_version,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Idempotent: a retried POST with the same Idempotency-Key finds the row it made. */
export async function insertProject(
  sql: Sql,
  p: {
    id: string;
    userId: string;
    name: string;
    prompt: string | null;
    rateCardVersion: number;
    requestHash: string;
  },
): Promise<{ created: boolean }> {
  const rows = await sql`
    INSERT INTO projects (id, user_id, name, prompt, rate_card_version, request_hash)
    VALUES (${p.id}, ${p.userId}, ${p.name}, ${p.prompt}, ${p.rateCardVersion}, ${p.requestHash})
    ON CONFLICT (id) DO NOTHING RETURNING id`;
  if (rows.length === 1) return { created: true };
  const [existing] = await sql<{ request_hash: string | null }[]>`
    SELECT request_hash FROM projects WHERE id = ${p.id}`;
  if (existing?.request_hash !== p.requestHash) throw new IdempotencyConflict(`project ${p.id}`);
  return { created: false };
}

export async function findProject(sql: Sql, id: string) {
  const [row] = await sql<ProjectRow[]>`SELECT * FROM projects WHERE id = ${id}`;
  return row ? toView(row) : null;
}

export async function listProjects(sql: Sql, userId: string, limit: number) {
  const rows = await sql<ProjectRow[]>`
    SELECT * FROM projects WHERE user_id = ${userId} ORDER BY created_at DESC, id LIMIT ${limit}`;
  return rows.map(toView);
}

export async function listProjectTasks(sql: Sql, projectId: string) {
  return sql<
    {
      position: number;
      title: string;
      size: TaskSize;
      estimate: number;
      status: string;
      cost: number | null;
    }[]
  >`
    SELECT position, title, size, estimate, status, cost FROM project_tasks
    WHERE project_id = ${projectId} ORDER BY position`;
}

/** The task list, once: a retried save changes nothing. */
export async function saveTaskList(sql: Sql, projectId: string, tasks: PlannedTask[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`
      INSERT INTO project_tasks (project_id, position, title, size, estimate)
      SELECT ${projectId}, p - 1, t, s, e
      FROM unnest(${tasks.map((t) => t.title)}::text[], ${tasks.map((t) => t.size)}::text[],
                  ${tasks.map((t) => t.estimate)}::bigint[]) WITH ORDINALITY AS x(t, s, e, p)
      ON CONFLICT DO NOTHING`;
    await tx`
      UPDATE projects SET tasks_total = (SELECT count(*) FROM project_tasks WHERE project_id = ${projectId}),
                          updated_at = now()
      WHERE id = ${projectId}`;
  });
}

export async function markTaskReserved(
  sql: Sql,
  projectId: string,
  position: number,
  holdId: string,
): Promise<void> {
  await sql.begin(async (tx) => {
    const rows = await tx`
      UPDATE project_tasks SET status = 'running', hold_id = ${holdId}
      WHERE project_id = ${projectId} AND position = ${position} AND status = 'pending' RETURNING estimate`;
    if (rows.length === 1) {
      await tx`UPDATE projects SET credits_reserved = credits_reserved + ${rows[0]!.estimate as number},
                                   updated_at = now() WHERE id = ${projectId}`;
    }
  });
}

/** running → completed with its cost; counted once however often it is called. */
export async function markTaskCompleted(
  sql: Sql,
  t: { projectId: string; position: number; cost: number; output: string },
): Promise<{ creditsSpent: number }> {
  return sql.begin(async (tx) => {
    const rows = await tx<{ estimate: number }[]>`
      UPDATE project_tasks SET status = 'completed', cost = ${t.cost}, output = ${t.output}, completed_at = now()
      WHERE project_id = ${t.projectId} AND position = ${t.position} AND status = 'running' RETURNING estimate`;
    if (rows.length === 1) {
      await tx`
        UPDATE projects SET tasks_completed = tasks_completed + 1, credits_spent = credits_spent + ${t.cost},
                            credits_reserved = credits_reserved - ${rows[0]!.estimate}, updated_at = now()
        WHERE id = ${t.projectId}`;
    }
    const [p] = await tx<
      { credits_spent: number }[]
    >`SELECT credits_spent FROM projects WHERE id = ${t.projectId}`;
    return { creditsSpent: p!.credits_spent };
  });
}

/** running → cancelled | failed: its reservation no longer counts. */
export async function markTaskReleased(
  sql: Sql,
  t: { projectId: string; position: number; status: 'cancelled' | 'failed' },
): Promise<void> {
  await sql.begin(async (tx) => {
    const rows = await tx<{ estimate: number }[]>`
      UPDATE project_tasks SET status = ${t.status}
      WHERE project_id = ${t.projectId} AND position = ${t.position} AND status = 'running' RETURNING estimate`;
    if (rows.length === 1) {
      await tx`UPDATE projects SET credits_reserved = credits_reserved - ${rows[0]!.estimate}, updated_at = now()
               WHERE id = ${t.projectId}`;
    }
  });
}

export async function addPlanningCost(sql: Sql, projectId: string, credits: number): Promise<void> {
  await sql`UPDATE projects SET credits_spent = credits_spent + ${credits}, updated_at = now()
            WHERE id = ${projectId} AND credits_spent = 0`;
}

export async function setProjectStatus(
  sql: Sql,
  s: {
    projectId: string;
    status: ProjectStatus;
    pausedReason?: PausedReason | null;
    failureReason?: string | null;
  },
): Promise<void> {
  await sql`
    UPDATE projects SET status = ${s.status},
      paused_reason = ${s.status === 'paused' ? sql.json((s.pausedReason ?? null) as never) : null},
      failure_reason = ${s.failureReason ?? null}, updated_at = now()
    WHERE id = ${s.projectId} AND status NOT IN ('completed', 'cancelled', 'failed')`;
}

/** The user's paused projects: the ones a top-up should wake. */
export async function pausedProjectIds(sql: Sql, userId: string): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT id FROM projects WHERE user_id = ${userId} AND status = 'paused'`;
  return rows.map((r) => r.id);
}
