import { type RequestHandler, Router } from 'express';
import type { Sql } from '../../db/pool';
import { latestProjectsOf } from '../../db/projects';
import { defaultLogger, errorLog, type Logger } from '../../observability/logger';
import { currentUser } from '../auth';
import { type StreamOptions, streamFromHub } from '../event-stream';
import { PROJECT_EVENTS_PATH, projectRowView } from '../pages/projects';
import { type ProgressHubLimits, ProjectProgressHub } from '../project-progress-hub';

/** As many projects as the credits page lists (api/routes/credits-page.ts RECENT). */
const PROJECTS_SHOWN = 10;
export const PROJECT_STREAM_LIMITS: ProgressHubLimits = {
  pollMs: 1000,
  perUserStreams: 4,
  totalStreams: 1000,
};
const RETRY_MS = 3000;
const STREAM: StreamOptions = {
  cacheControl: 'no-store',
  retryMs: RETRY_MS,
  /**
   * A stream ends after this long and the browser's EventSource opens a new one `retry` later:
   * the session is checked again (a signed-out or expired session stops getting updates), and no
   * forgotten tab holds a slot for ever.
   */
  maxMs: 10 * 60_000,
  userLimitMessage: `at most ${PROJECT_STREAM_LIMITS.perUserStreams} progress streams per user are open at once; close another tab`,
  retryAfterSeconds: RETRY_MS / 1000,
};

type Deps = {
  sql: Sql;
  requireUser: RequestHandler;
  logger?: Logger | undefined;
  log?: ((message: string, error: unknown) => void) | undefined;
};

/**
 * `GET /usercredits/projects/events`: the signed-in user's latest projects as Server-Sent Events
 * for the credits page's progress bars (api/pages/projects.ts): first every project, then each
 * change, as `event: progress` with the row's view. Authenticated like the JSON API (the page's
 * session cookie, which EventSource sends, or a bearer key); 401 without. One shared poller per
 * process (api/project-progress-hub.ts); 429 over a user's stream limit, 503 over the process's.
 * While Postgres is away the stream stays open and catches up when it is back.
 */
export function projectEventsRouter(deps: Deps): Router {
  const log = deps.log ?? errorLog(deps.logger ?? defaultLogger());
  const hub = new ProjectProgressHub(
    (userIds) => latestProjectsOf(deps.sql, userIds, PROJECTS_SHOWN),
    (row) => row.userId,
    PROJECT_STREAM_LIMITS,
    (error) => log('project progress: reading projects failed; streams wait for Postgres', error),
  );
  const router = Router();
  router.get(PROJECT_EVENTS_PATH, deps.requireUser, (req, res) => {
    const userId = currentUser(res).id;
    streamFromHub(req, res, hub, { userId, topic: userId }, STREAM, {
      projects: (stream, projects) => {
        for (const project of projects) stream.send('progress', projectRowView(project));
      },
    });
  });
  return router;
}
