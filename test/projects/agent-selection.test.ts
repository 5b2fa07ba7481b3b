import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { assignAgents } from '../../app/agents';
import type { RateCardBody } from '../../domain';
import {
  type AgentStats,
  bayesianRating,
  chooseAgent,
  MAX_CANDIDATES,
  PRIOR_MEAN_STARS,
  PRIOR_WEIGHT,
  seededFraction,
  taskAgentSeed,
} from '../../domain/agent-selection';
import { workflowIds } from '../../workflows/messages';
import { startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { startTestWorker, type TestWorker, workflowBundle } from '../support/worker';
import { type ProjectBody, projectsApi, tasks } from './support';

/**
 * DESIGN.md §11: project tasks may name an agent; tasks that name none get one chosen by the
 * planner among published agents, weighted by a Bayesian average rating, deterministically. The
 * agent travels with the task: its hold, so the posted transfers name it (and pay its creator's
 * share), and the project's task list.
 */

describe('the planner’s choice (domain/agent-selection.ts)', () => {
  const agent = (id: string, ratingsCount: number, starsTotal: number): AgentStats => ({
    id,
    ratingsCount,
    starsTotal,
  });

  test('when an agent has no ratings, then its Bayesian average is the prior mean; ratings pull it toward their mean', () => {
    expect(bayesianRating(agent('a', 0, 0))).toBe(PRIOR_MEAN_STARS);
    expect(bayesianRating(agent('a', 1, 5))).toBeCloseTo(
      (PRIOR_WEIGHT * PRIOR_MEAN_STARS + 5) / (PRIOR_WEIGHT + 1),
    );
    expect(bayesianRating(agent('a', 1000, 5000))).toBeGreaterThan(4.9);
    expect(bayesianRating(agent('a', 1000, 1000))).toBeLessThan(1.1);
  });

  test('when there are no published agents, then no agent is chosen', () => {
    expect(chooseAgent([], 'seed')).toBeUndefined();
  });

  test('when the same candidates and seed are given again, in any order, then the same agent is chosen', () => {
    const candidates = [agent('c', 3, 12), agent('a', 0, 0), agent('b', 10, 20), agent('d', 1, 5)];
    for (let i = 0; i < 200; i++) {
      const seed = taskAgentSeed('project-1', i);
      const chosen = chooseAgent(candidates, seed);
      expect(chooseAgent([...candidates].reverse(), seed)).toBe(chosen);
      expect(chooseAgent(candidates, seed)).toBe(chosen);
    }
  });

  test('when seeds vary, then the fraction they give is in [0, 1) and spread evenly', () => {
    const fractions = Array.from({ length: 10_000 }, (_, i) => seededFraction(`seed-${i}`));
    expect(Math.min(...fractions)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fractions)).toBeLessThan(1);
    const buckets = new Array<number>(10).fill(0);
    for (const f of fractions) buckets[Math.floor(f * 10)]! += 1;
    for (const n of buckets) expect(Math.abs(n - 1000)).toBeLessThan(150);
  });

  test('when one agent is rated high and one low, then over many tasks the high one is chosen most, each in proportion to its weight', () => {
    const high = agent('high', 50, 250);
    const fresh = agent('fresh', 0, 0);
    const low = agent('low', 50, 50);
    const candidates = [low, fresh, high];
    const counts = new Map<string, number>();
    const runs = 6000;
    for (let i = 0; i < runs; i++) {
      const chosen = chooseAgent(candidates, taskAgentSeed(`project-${i % 600}`, Math.floor(i / 600)))!;
      counts.set(chosen, (counts.get(chosen) ?? 0) + 1);
    }
    const total = candidates.reduce((s, c) => s + bayesianRating(c), 0);
    for (const c of candidates) {
      expect((counts.get(c.id) ?? 0) / runs).toBeCloseTo(bayesianRating(c) / total, 1);
    }
    expect(counts.get('high')!).toBeGreaterThan(counts.get('fresh')!);
    expect(counts.get('fresh')!).toBeGreaterThan(counts.get('low')!);
  });
});

describe('agents on project tasks', () => {
  let app: TestApp;
  let worker: TestWorker;
  let p: ReturnType<typeof projectsApi>;
  let card: RateCardBody;
  let creator: { id: string; apiKey: string };
  let named: string;

  beforeAll(async () => {
    app = await startTestApp();
    worker = await startTestWorker(app, { taskMs: 10, usageBp: 10_000 });
    p = projectsApi(app);
    card = (await p.api.get<RateCardBody>('/v1/rate-card')).body;
    const c = await fundedUser(app.sql, app.ledger, 0);
    creator = { id: c.user.id, apiKey: c.apiKey };
    // Two agents of this file; other files' agents may be published too, and all are candidates.
    for (const name of ['Planner pick one', 'Planner pick two']) {
      expect((await p.api.post('/v1/agents', { name }, creator.apiKey)).status).toBe(201);
    }
    named = (await p.api.post<{ id: string }>('/v1/agents', { name: 'Named' }, creator.apiKey)).body.id;
  });
  afterAll(async () => {
    await worker.stop();
    await app.close();
  });

  type TaskRow = NonNullable<ProjectBody['tasks']>[number] & { agentId: string | null };

  async function publishedIds(): Promise<Set<string>> {
    const rows = await app.sql<{ id: string }[]>`SELECT id FROM agents`;
    return new Set(rows.map((r) => r.id));
  }

  /** The project's transfers by task position: kind, amount and agent. */
  async function taskTransfers(projectId: string) {
    return app.sql<{ cause_id: string; kind: string; amount: number; agent_id: string | null }[]>`
      SELECT cause_id, kind, amount, agent_id FROM transfers
      WHERE cause_type = 'project_task' AND cause_id LIKE ${`${projectId}:%`} ORDER BY id`;
  }

  async function run(apiKey: string, body: unknown, headers?: Record<string, string>) {
    const res = await p.api.post<ProjectBody>('/v1/projects', body, apiKey, headers);
    expect(res.status).toBe(201);
    const done = await p.until(apiKey, res.body.id, 'completed', (x) => x.status === 'completed');
    return { id: res.body.id, tasks: done.tasks as TaskRow[] };
  }

  test('when a project’s tasks name no agent, then each runs with a published agent, its transfers name it and its creator is paid a share', async () => {
    const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
    const project = await run(apiKey, { name: 'chosen agents', tasks: tasks(6, 'small') });
    const published = await publishedIds();
    expect(project.tasks).toHaveLength(6);
    for (const t of project.tasks) expect(published.has(t.agentId!)).toBe(true);

    const transfers = await taskTransfers(project.id);
    const share = Math.floor((card.projectTask.small * card.creatorShareBp) / 10_000);
    for (const t of project.tasks) {
      const mine = transfers.filter((x) => x.cause_id === `${project.id}:${t.position}`);
      // The payer's charge and (the creator being someone else) the creator's share, both naming the agent.
      expect(mine.filter((x) => x.kind === 'usage:project_task')).toEqual([
        {
          cause_id: `${project.id}:${t.position}`,
          kind: 'usage:project_task',
          amount: 25,
          agent_id: t.agentId,
        },
      ]);
      expect(mine.filter((x) => x.kind === 'creator_share')).toEqual([
        {
          cause_id: `${project.id}:${t.position}`,
          kind: 'creator_share',
          amount: share,
          agent_id: t.agentId,
        },
      ]);
    }
    // The payer pays the price, no more: the share comes out of the platform's part.
    expect((await p.api.get('/v1/balance', apiKey)).body).toMatchObject({ available: 1000 - 6 * 25 });
    expect(user.id).not.toBe(creator.id);
  });

  test('when a task names an agent, then it runs with that one, and its payer may then rate it', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
    const project = await run(apiKey, {
      name: 'named agent',
      tasks: [{ title: 'with the named agent', size: 'small', agentId: named }, { title: 'planner picks' }],
    });
    expect(project.tasks[0]!.agentId).toBe(named);
    expect(project.tasks[1]!.agentId).toEqual(expect.any(String));
    const transfers = await taskTransfers(project.id);
    expect(
      transfers.find((x) => x.cause_id === `${project.id}:0` && x.kind === 'usage:project_task'),
    ).toMatchObject({
      agent_id: named,
    });
    // Charged for the agent through the project task: a rating is allowed.
    expect((await p.api.post(`/v1/agents/${named}/ratings`, { stars: 5 }, apiKey)).status).toBe(201);
  });

  test('when only a prompt is given, then the planned tasks get agents too', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
    const project = await run(apiKey, { name: 'planned', prompt: 'Write the spec. Build it. Ship it.' });
    const published = await publishedIds();
    expect(project.tasks).toHaveLength(3);
    for (const t of project.tasks) expect(published.has(t.agentId!)).toBe(true);
    const charged = (await taskTransfers(project.id)).filter((x) => x.kind === 'usage:project_task');
    expect(charged.map((x) => x.agent_id)).toEqual(project.tasks.map((t) => t.agentId));
  });

  test('when the planner chooses again for the same project and agents, then it chooses the same', async () => {
    const projectId = randomUUID();
    const list = tasks(20, 'small').map((t) => ({ ...t, estimate: 25 }));
    const first = await assignAgents(app.sql, projectId, list);
    const again = await assignAgents(app.sql, projectId, list);
    expect(again.map((t) => t.agentId)).toEqual(first.map((t) => t.agentId));
    expect(first.every((t) => typeof t.agentId === 'string')).toBe(true);
    const [row] = await app.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM agents`;
    // With more than two candidates, 20 tasks are very unlikely to all get one agent.
    if (Math.min(row!.n, MAX_CANDIDATES) > 2)
      expect(new Set(first.map((t) => t.agentId)).size).toBeGreaterThan(1);
  });

  test('when a project start is retried with its Idempotency-Key, then its tasks keep their agents', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
    const headers = { 'idempotency-key': randomUUID() };
    const body = { name: 'retried', tasks: tasks(3, 'small') };
    const first = await run(apiKey, body, headers);
    const again = await p.api.post<ProjectBody>('/v1/projects', body, apiKey, headers);
    expect(again.status).toBe(200);
    const shown = (await p.api.get<ProjectBody>(`/v1/projects/${first.id}`, apiKey)).body.tasks as TaskRow[];
    expect(shown.map((t) => t.agentId)).toEqual(first.tasks.map((t) => t.agentId));
  });

  test.each<[string, string, (agentId: string) => unknown[]]>([
    ['an unknown agent', 'tasks.1.agentId', () => [{ title: 'a' }, { title: 'b', agentId: randomUUID() }]],
    ['a malformed agent id', 'tasks.0.agentId', () => [{ title: 'a', agentId: 'agent-7' }]],
    ['an agent id that is a number', 'tasks.0.agentId', () => [{ title: 'a', agentId: 7 }]],
  ])('when a task names %s, then 400 names %s and no project starts', async (_, field, taskList) => {
    const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1000);
    const res = await p.api.post<{ error: { code: string; message: string } }>(
      '/v1/projects',
      { name: 'bad agent', tasks: taskList(named) },
      apiKey,
    );
    expect(res.status).toBe(400);
    expect(res.body.error.message.startsWith(`${field}: `)).toBe(true);
    const [row] = await app.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM projects WHERE user_id = ${user.id}`;
    expect(row!.n).toBe(0);
  });

  test('when an estimate’s tasks name agents, then they are accepted and do not change the price', async () => {
    const { apiKey } = await fundedUser(app.sql, app.ledger, 0);
    const plain = await p.api.post<{ credits: number }>('/v1/estimates', { tasks: [{ title: 'a' }] }, apiKey);
    const withAgent = await p.api.post<{ credits: number }>(
      '/v1/estimates',
      { tasks: [{ title: 'a', agentId: named }] },
      apiKey,
    );
    expect(withAgent.status).toBe(200);
    expect(withAgent.body.credits).toBe(plain.body.credits);
    const malformed = await p.api.post<{ error: { message: string } }>(
      '/v1/estimates',
      { tasks: [{ title: 'a', agentId: 'x' }] },
      apiKey,
    );
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toMatch(/^tasks\.0\.agentId: /);
  });

  test('when a project run with agents is replayed, then the workflow code is deterministic', async () => {
    const fixture = path.join(__dirname, '../workflows/histories/project-agents.json');
    const { apiKey } = await fundedUser(app.sql, app.ledger, 1000);
    const project = await run(apiKey, {
      name: 'replayed with agents',
      tasks: [
        { title: 'named', size: 'small', agentId: named },
        { title: 'chosen', size: 'small' },
      ],
    });
    const workflowId = workflowIds.project(project.id);
    const history = await app.temporal.workflow.getHandle(workflowId).fetchHistory();
    const bundle = { workflowBundle: { codePath: await workflowBundle() } };
    await Worker.runReplayHistory(bundle, history, workflowId);
    if (process.env.UPDATE_HISTORIES) await writeFile(fixture, historyToJSON(history));
    const saved = historyFromJSON(JSON.parse(await readFile(fixture, 'utf8')));
    await Worker.runReplayHistory(bundle, saved, 'project-agents-fixture');
  });
});
