import { randomUUID } from 'node:crypto';
import { ADMIN_KEY, http, type TestApp } from '../support/app';
import { waitFor } from '../support/wait';

export interface ProjectBody {
  id: string;
  status: string;
  tasksCompleted: number;
  tasksTotal: number;
  creditsSpent: number;
  creditsReserved: number;
  pausedReason: { code: string; needed: number; available: number } | null;
  failureReason: string | null;
  tasks?: { position: number; status: string; cost: number | null; estimate: number }[];
}

export function projectsApi(app: TestApp) {
  const api = http(app.url);
  return {
    api,
    start: async (key: string, body: unknown) => {
      const res = await api.post<ProjectBody>('/v1/projects', body, key);
      if (res.status !== 201) throw new Error(`start failed: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    get: async (key: string, id: string) => (await api.get<ProjectBody>(`/v1/projects/${id}`, key)).body,
    until: (key: string, id: string, what: string, ok: (p: ProjectBody) => boolean, timeoutMs = 30_000) =>
      waitFor(
        `project ${what}`,
        async () => {
          const p = (await api.get<ProjectBody>(`/v1/projects/${id}`, key)).body;
          return ok(p) ? p : null;
        },
        timeoutMs,
      ),
    grant: async (userId: string, credits: number) => {
      const res = await api.post('/v1/admin/grants', { userId, credits }, ADMIN_KEY, {
        'idempotency-key': randomUUID(),
      });
      if (res.status !== 201) throw new Error(`grant failed: ${res.status}`);
    },
  };
}

export function tasks(n: number, size: 'small' | 'medium' | 'large' = 'small', prefix = 'task') {
  return Array.from({ length: n }, (_, i) => ({ title: `${prefix} ${i + 1}`, size }));
}

export async function projectTaskTransfers(app: TestApp, userId: string) {
  return app.sql<{ amount: number; kind: string }[]>`
    SELECT t.amount, t.kind FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.user_id = ${userId} AND t.kind = 'usage:project_task'`;
}
