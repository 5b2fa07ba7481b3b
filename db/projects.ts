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
  /** The project's budget (DESIGN.md §13); null when it has none. */
  maxCredits: number | null;
  failureReason: string | null;
  rateCardVersion: number;
  createdAt: string;
  updatedAt: string;
}

export interface PlannedTask {
  title: string;
  size: TaskSize;
  estimate: number;
  /** The agent that runs it (named by the runner or chosen by the planner); none when no agent was published. */
  agentId?: string | undefined;
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
  max_credits: number | null;
  created_at: Date;
  updated_at: Date;
}

function toView(r: ProjectRow): ProjectView & { userId: string } {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    maxCredits: r.max_credits,
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
    maxCredits: number | null;
    requestHash: string;
  },
): Promise<{ created: boolean }> {
  const rows = await sql`
    INSERT INTO projects (id, user_id, name, prompt, rate_card_version, max_credits, request_hash)
    VALUES (${p.id}, ${p.userId}, ${p.name}, ${p.prompt}, ${p.rateCardVersion}, ${p.maxCredits}, ${p.requestHash})
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

/** Projects by id, in one query (the API's progress streams read every watched project at once). */
export async function findProjects(sql: Sql, ids: string[]) {
  const rows = await sql<ProjectRow[]>`SELECT * FROM projects WHERE id = ANY(${ids}::uuid[])`;
  return rows.map(toView);
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
      agentId: string | null;
    }[]
  >`
    SELECT position, title, size, estimate, status, cost, agent_id AS "agentId" FROM project_tasks
    WHERE project_id = ${projectId} ORDER BY position`;
}

/**
 * The latest `perUser` projects of each of `userIds`, in one query (the credits page's live
 * progress polls this for every open page of a process at once, api/project-progress-hub.ts).
 */
export async function latestProjectsOf(sql: Sql, userIds: string[], perUser: number) {
  const rows = await sql<ProjectRow[]>`
    SELECT p.* FROM unnest(${userIds}::uuid[]) AS u(id)
    CROSS JOIN LATERAL (
      SELECT * FROM projects WHERE user_id = u.id ORDER BY created_at DESC, id LIMIT ${perUser}
    ) p`;
  return rows.map(toView);
}

/**
 * The task list, once: a retried save changes nothing. Returns the list as stored, so a retry
 * whose tasks differ from the first save's (a planner's agent choice made again after the
 * ratings changed) goes on with what the first save recorded.
 */
export async function saveTaskList(
  sql: Sql,
  projectId: string,
  tasks: PlannedTask[],
): Promise<PlannedTask[]> {
  return sql.begin(async (tx) => {
    const inserted = await tx`
      INSERT INTO project_tasks (project_id, position, title, size, estimate, agent_id)
      SELECT ${projectId}, p - 1, t, s, e, a
      FROM unnest(${tasks.map((t) => t.title)}::text[], ${tasks.map((t) => t.size)}::text[],
                  ${tasks.map((t) => t.estimate)}::bigint[], ${tasks.map((t) => t.agentId ?? null)}::uuid[])
           WITH ORDINALITY AS x(t, s, e, a, p)
      ON CONFLICT DO NOTHING RETURNING position`;
    if (inserted.length > 0) {
      await tx`
        UPDATE projects SET tasks_total = (SELECT count(*) FROM project_tasks WHERE project_id = ${projectId}),
                            updated_at = now()
        WHERE id = ${projectId}`;
    }
    const stored = await tx<{ title: string; size: TaskSize; estimate: number; agent_id: string | null }[]>`
      SELECT title, size, estimate, agent_id FROM project_tasks WHERE project_id = ${projectId} ORDER BY position`;
    return stored.map((r) => ({
      title: r.title,
      size: r.size,
      estimate: r.estimate,
      ...(r.agent_id === null ? {} : { agentId: r.agent_id }),
    }));
  }) as Promise<PlannedTask[]>;
}

/**
 * What settling a task needs from its row: the agent it ran with (its creator is paid a share)
 * and the project's rate card version (the share's rate, the same on every retry).
 */
export async function taskAgent(
  sql: Sql,
  projectId: string,
  position: number,
): Promise<{ agentId: string | undefined; rateCardVersion: number } | null> {
  const [row] = await sql<{ agent_id: string | null; rate_card_version: number }[]>`
    SELECT t.agent_id, p.rate_card_version FROM project_tasks t JOIN projects p ON p.id = t.project_id
    WHERE t.project_id = ${projectId} AND t.position = ${position}`;
  return row ? { agentId: row.agent_id ?? undefined, rateCardVersion: row.rate_card_version } : null;
}

/** The project's owner and its tasks' positions; null for no such project. */
export async function taskPositions(
  sql: Sql,
  projectId: string,
): Promise<{ userId: string; positions: number[] } | null> {
  const rows = await sql<{ user_id: string; position: number | null }[]>`
    SELECT p.user_id, t.position FROM projects p LEFT JOIN project_tasks t ON t.project_id = p.id
    WHERE p.id = ${projectId} ORDER BY t.position`;
  if (rows.length === 0) return null;
  return {
    userId: rows[0]!.user_id,
    positions: rows.flatMap((r) => (r.position === null ? [] : [r.position])),
  };
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

/**
 * Records the budget the project workflow accepted. Only the workflow writes it, one change at a
 * time in the order it accepted them, so the row ends with the latest.
 */
export async function setProjectBudget(sql: Sql, projectId: string, maxCredits: number): Promise<void> {
  await sql`UPDATE projects SET max_credits = ${maxCredits}, updated_at = now() WHERE id = ${projectId}`;
}

/** The user's paused projects: the ones a top-up should wake. */
export async function pausedProjectIds(sql: Sql, userId: string): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT id FROM projects WHERE user_id = ${userId} AND status = 'paused'`;
  return rows.map((r) => r.id);
}
