import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import { isFinished, type Project, type UseCases } from '../../app';
import type { Sql } from '../../db/pool';
import { findProjects, listProjects, listProjectTasks, type ProjectView } from '../../db/projects';
import { defaultLogger, errorLog, type Logger } from '../../observability/logger';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { type StreamOptions, streamFromHub } from '../event-stream';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { type ProgressHubLimits, ProjectProgressHub } from '../project-progress-hub';
import { integerParam, projectBody, projectBudgetBody, uuidOf } from '../schemas';

export const idParam = z.object({ id: uuidOf('a project id') });
export const listQuery = z.object({ limit: integerParam(1, 100).default(20) }).strict();
/**
 * The API's progress streams (`GET /v1/projects/:id/events`): every watched project of the
 * process read in one query each 250 ms. A runner follows several projects at once, so a user
 * may hold more of these than of the page's streams (api/routes/project-events.ts).
 */
export const PROJECT_API_STREAM_LIMITS: ProgressHubLimits = {
  pollMs: 250,
  perUserStreams: 20,
  totalStreams: 1000,
};
const RETRY_AFTER_SECONDS = 3;
const STREAM: StreamOptions = {
  cacheControl: 'no-cache',
  userLimitMessage: `at most ${PROJECT_API_STREAM_LIMITS.perUserStreams} project event streams per user are open at once; close one, or read GET /v1/projects/:id`,
  retryAfterSeconds: RETRY_AFTER_SECONDS,
};

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
  logger?: Logger | undefined;
  log?: ((message: string, error: unknown) => void) | undefined;
} & Pick<UseCases, 'startProject' | 'ownProject' | 'cancelProject' | 'changeProjectBudget'>;

/** MultiTask projects: each is a projectWorkflow; progress is read from Postgres. */
export function projectsRouter(deps: Deps): Router {
  const router = Router();
  const log = deps.log ?? errorLog(deps.logger ?? defaultLogger());
  const progress = new ProjectProgressHub(
    (ids) => findProjects(deps.sql, ids),
    (row) => row.id,
    PROJECT_API_STREAM_LIMITS,
    (error) => log('project events: reading projects failed; streams end', error),
  );

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

  /**
   * Server-Sent Events: one `progress` event (the project's view) per change, until the project
   * ends. From the process's shared poller; 429 over the user's stream limit, 503 over the
   * process's. Postgres going away ends the stream: the client reconnects and hears the 503.
   */
  router.get('/v1/projects/:id/events', deps.requireUser, async (req, res) => {
    const userId = currentUser(res).id;
    const project = await ownProject(userId, req.params.id);
    streamFromHub(req, res, progress, { userId, topic: project.id }, STREAM, {
      projects: (stream, [current]) => {
        // No row: the project is gone; nothing more will come.
        if (current) stream.send('progress', view(current));
        if (!current || isFinished(current.status)) stream.end();
      },
      failed: (stream) => stream.end(),
    });
  });
  return router;
}
