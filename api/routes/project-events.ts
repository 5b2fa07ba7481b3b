import { type RequestHandler, type Response, Router } from 'express';
import type { Sql } from '../../db/pool';
import { latestProjectsOf } from '../../db/projects';
import { defaultLogger, errorLog, type Logger } from '../../observability/logger';
import { currentUser } from '../auth';
import { errorBody, unavailable } from '../errors';
import { PROJECT_EVENTS_PATH, projectRowView } from '../pages/projects';
import { type ProgressHubLimits, ProjectProgressHub, type UserProject } from '../project-progress-hub';

/** As many projects as the credits page lists (api/routes/credits-page.ts RECENT). */
const PROJECTS_SHOWN = 10;
export const PROJECT_STREAM_LIMITS: ProgressHubLimits = {
  pollMs: 1000,
  perUserStreams: 4,
  totalStreams: 1000,
};
/** A comment line this often: proxies keep an idle stream open, and a vanished client is noticed. */
const HEARTBEAT_MS = 15_000;
/**
 * A stream ends after this long and the browser's EventSource opens a new one `retry` later: the
 * session is checked again (a signed-out or expired session stops getting updates), and no
 * forgotten tab holds a slot for ever.
 */
const MAX_STREAM_MS = 10 * 60_000;
const RETRY_MS = 3000;

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
 */
export function projectEventsRouter(deps: Deps): Router {
  const log = deps.log ?? errorLog(deps.logger ?? defaultLogger());
  const hub = new ProjectProgressHub(
    (userIds) => latestProjectsOf(deps.sql, userIds, PROJECTS_SHOWN),
    PROJECT_STREAM_LIMITS,
    (error) => log('project progress: reading projects failed; streams wait for Postgres', error),
  );
  const router = Router();
  router.get(PROJECT_EVENTS_PATH, deps.requireUser, (_req, res) => {
    const subscription = hub.subscribe(currentUser(res).id, (projects) => sendProgress(res, projects));
    if (subscription === 'user_limit') {
      const message = `at most ${PROJECT_STREAM_LIMITS.perUserStreams} progress streams per user are open at once; close another tab`;
      res
        .status(429)
        .set('retry-after', String(RETRY_MS / 1000))
        .json(errorBody('too_many_streams', message));
      return;
    }
    if (subscription === 'server_limit') {
      const answer = unavailable('the progress stream (this server has all the streams it can hold)');
      res.status(answer.status).set(answer.headers).json(answer.body);
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Proxies such as nginx would otherwise hold the events back in their buffers.
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const lifetime = setTimeout(() => res.end(), MAX_STREAM_MS);
    res.once('close', () => {
      clearInterval(heartbeat);
      clearTimeout(lifetime);
      subscription.unsubscribe();
    });
  });
  return router;
}

function sendProgress(res: Response, projects: UserProject[]): void {
  for (const project of projects) {
    res.write(`event: progress\ndata: ${JSON.stringify(projectRowView(project))}\n\n`);
  }
}
