import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { isFinished, type Project, type UseCases } from '../../app';
import type { Sql } from '../../db/pool';
import { findProject, listProjects, listProjectTasks, type ProjectView } from '../../db/projects';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { integerParam, projectBody, projectBudgetBody } from '../schemas';

export const idParam = z.object({ id: z.uuid({ message: 'must be a project id (UUID)' }) });
export const listQuery = z.object({ limit: integerParam(1, 100).default(20) }).strict();
/** How often the event stream looks for progress. */
const EVENTS_POLL_MS = 250;

function view(p: ProjectView) {
  return {
    id: p.id,
    name: p.name,
    status: p.status,
    /** The budget (DESIGN.md §13), null when none; pausedReason.code says which limit stopped it. */
    maxCredits: p.maxCredits,
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
  requireUser: RequestHandler;
} & Pick<UseCases, 'startProject' | 'ownProject' | 'cancelProject' | 'changeProjectBudget'>;

/** MultiTask projects: each is a projectWorkflow; progress is read from Postgres. */
export function projectsRouter(deps: Deps): Router {
  const router = Router();

  const ownProject = (userId: string, rawId: unknown): Promise<Project> => {
    const { id } = parse(idParam, { id: rawId }, 'id');
    return deps.ownProject(userId, id);
  };

  router.post('/v1/projects', deps.requireUser, async (req, res) => {
    const body = parse(projectBody, req.body);
    const started = await deps.startProject({ user: currentUser(res), body, key: idempotencyKey(req) });
    res
      .status(started.created ? 201 : 200)
      .set(replayHeaders(!started.created))
      .json({ ...view(started.project), estimate: started.estimate });
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
    const { id } = parse(idParam, { id: req.params.id }, 'id');
    const project = await deps.cancelProject(currentUser(res).id, id);
    res.status(202).json({ id: project.id, status: project.status, cancelRequested: true });
  });

  /**
   * Raises or lowers the project's budget (owner only: another user's is 404). Below what is
   * already spent is a 400 naming maxCredits; an ended project is a 409. A project paused for its
   * budget resumes by itself when the new budget pays its next step; the answer shows the project
   * once it has acted on the change.
   */
  router.post('/v1/projects/:id/budget', deps.requireUser, async (req, res) => {
    const { id } = parse(idParam, { id: req.params.id }, 'id');
    const { maxCredits } = parse(projectBudgetBody, req.body);
    const project = await deps.changeProjectBudget({ userId: currentUser(res).id, id, maxCredits });
    res.json(view(project));
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
      if (isFinished(current.status)) break;
      await new Promise((r) => setTimeout(r, EVENTS_POLL_MS));
    }
    res.end();
  });
  return router;
}
