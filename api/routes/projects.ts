import { randomUUID } from 'node:crypto';
import { type Client, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { uuidFromSeed } from '../../db/ids';
import { requestHash } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import {
  findProject,
  insertProject,
  listProjects,
  listProjectTasks,
  type ProjectView,
  saveTaskList,
} from '../../db/projects';
import type { RateCards } from '../../db/rate-cards';
import { Conflict, NotFound, priceProject, projectTasks, taskPrice } from '../../domain';
import { cancelProjectSignal, type ProjectInput, workflowIds } from '../../workflows/messages';
import { ProjectStatusKey, UserIdKey } from '../../workflows/search-attributes';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey } from '../idempotency';
import { projectBody } from '../schemas';

export interface ProjectSettings {
  recheckSeconds: number;
  tasksPerRun: number;
}

const idParam = z.object({ id: z.uuid({ message: 'must be a project id (UUID)' }) });
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20) }).strict();
const TERMINAL = new Set(['completed', 'cancelled', 'failed']);

function view(p: ProjectView) {
  return {
    id: p.id,
    name: p.name,
    status: p.status,
    tasksCompleted: p.tasksCompleted,
    tasksTotal: p.tasksTotal,
    creditsSpent: p.creditsSpent,
    creditsReserved: p.creditsReserved,
    pausedReason: p.pausedReason,
    failureReason: p.failureReason,
    rateCardVersion: p.rateCardVersion,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

type Deps = {
  sql: Sql;
  temporal: Client;
  rateCards: RateCards;
  taskQueue: string;
  projects: ProjectSettings;
  requireUser: RequestHandler;
};

/** MultiTask projects: each is a projectWorkflow; progress is read from Postgres. */
export function projectsRouter(deps: Deps): Router {
  const router = Router();

  const ownProject = async (userId: string, rawId: unknown) => {
    const { id } = parse(idParam, { id: rawId }, 'id');
    const project = await findProject(deps.sql, id);
    // Someone else's project is "not found": ids must not leak.
    if (!project || project.userId !== userId) throw new NotFound(`project ${id} not found`);
    return project;
  };

  router.post('/v1/projects', deps.requireUser, async (req, res) => {
    const user = currentUser(res);
    const body = parse(projectBody, req.body);
    const key = idempotencyKey(req);
    const card = await deps.rateCards.latest();
    const estimate = priceProject(card, body);
    const id = key ? uuidFromSeed(`project:${user.id}:${key}`) : randomUUID();
    const tasks = body.tasks
      ? projectTasks(body).map((t) => ({ ...t, estimate: taskPrice(card, t.size) }))
      : null;
    const { created } = await insertProject(deps.sql, {
      id,
      userId: user.id,
      name: body.name,
      prompt: body.prompt ?? null,
      rateCardVersion: card.version,
      requestHash: requestHash('project', body),
    });
    if (created && tasks) await saveTaskList(deps.sql, id, tasks);
    const input: ProjectInput = {
      projectId: id,
      userId: user.id,
      rateCardVersion: card.version,
      tasks,
      prompt: body.prompt ?? null,
      recheckSeconds: deps.projects.recheckSeconds,
      tasksPerRun: deps.projects.tasksPerRun,
    };
    try {
      await deps.temporal.workflow.start('projectWorkflow', {
        taskQueue: deps.taskQueue,
        workflowId: workflowIds.project(id),
        args: [input],
        typedSearchAttributes: [
          { key: ProjectStatusKey, value: 'running' },
          { key: UserIdKey, value: user.id },
        ],
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
    const project = (await findProject(deps.sql, id))!;
    res.status(created ? 201 : 200).json({ ...view(project), estimate: estimate.credits });
  });

  router.get('/v1/projects', deps.requireUser, async (req, res) => {
    const { limit } = parse(listQuery, req.query, 'query');
    res.json({ data: (await listProjects(deps.sql, currentUser(res).id, limit)).map(view) });
  });

  router.get('/v1/projects/:id', deps.requireUser, async (req, res) => {
    const project = await ownProject(currentUser(res).id, req.params.id);
    res.json({ ...view(project), tasks: await listProjectTasks(deps.sql, project.id) });
  });

  router.post('/v1/projects/:id/cancel', deps.requireUser, async (req, res) => {
    const project = await ownProject(currentUser(res).id, req.params.id);
    if (TERMINAL.has(project.status))
      throw new Conflict(`project ${project.id} is already ${project.status}`);
    try {
      await deps.temporal.workflow
        .getHandle(workflowIds.project(project.id))
        .signal(cancelProjectSignal, { reason: 'cancelled by the user' });
    } catch (error) {
      if (error instanceof WorkflowNotFoundError)
        throw new Conflict(`project ${project.id} has already finished`);
      throw error;
    }
    res.status(202).json({ id: project.id, status: project.status, cancelRequested: true });
  });

  /** Server-Sent Events: one `progress` event per change, until the project ends. */
  router.get('/v1/projects/:id/events', deps.requireUser, async (req, res) => {
    const project = await ownProject(currentUser(res).id, req.params.id);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    let last = '';
    let open = true;
    req.on('close', () => {
      open = false;
    });
    while (open) {
      const current = await findProject(deps.sql, project.id);
      if (!current) break;
      const data = JSON.stringify(view(current));
      if (data !== last) {
        res.write(`event: progress\ndata: ${data}\n\n`);
        last = data;
      }
      if (TERMINAL.has(current.status)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    res.end();
  });
  return router;
}
