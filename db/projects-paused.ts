import type { Sql } from './pool';

/** The user's paused projects: the ones a top-up should wake. */
export async function pausedProjectIds(sql: Sql, userId: string): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    SELECT id FROM projects WHERE user_id = ${userId} AND status = 'paused'`;
  return rows.map((r) => r.id);
}
