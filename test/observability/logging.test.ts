import { randomUUID } from 'node:crypto';
import { createApp } from '../../api/app';
import { listen, type RunningServer } from '../../api/server';
import { SESSION_COOKIE } from '../../api/session';
import type { UseCases } from '../../app';
import { parseEnv } from '../../config/env';
import { createLogger, type Logger, temporalLogger } from '../../observability/logger';
import { installRuntimeLogger } from '../../worker/worker';
import { holdSweeperWorkflow } from '../../workflows';
import { ADMIN_KEY, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { startTestWorker } from '../support/worker';

/**
 * Issue 17, item 2: JSON lines through one logger, each line of a request with its id; the
 * request's own line with the user, the route pattern, the status and the latency; no secrets.
 */

interface Line {
  level: string;
  msg: string;
  requestId?: string;
  userId?: string;
  method?: string;
  route?: string;
  status?: number;
  latencyMs?: number;
  err?: { message: string };
  [key: string]: unknown;
}

/** A logger whose lines this file reads: the raw text (for secrets) and the parsed lines. */
function capturingLogger(level: 'info' | 'debug' = 'info') {
  const raw: string[] = [];
  const logger: Logger = createLogger({ level, destination: { write: (line: string) => raw.push(line) } });
  return { logger, raw, lines: () => raw.map((line) => JSON.parse(line) as Line) };
}

let app: TestApp;
let server: RunningServer;
let log: ReturnType<typeof capturingLogger>;
let user: { id: string; apiKey: string };
/** Set by a test to make the use cases behind GET /v1/projects/:id and POST /v1/usage throw. */
let failWith: Error | undefined;

beforeAll(async () => {
  app = await startTestApp();
  log = capturingLogger();
  const useCases: UseCases = {
    ...app.root.useCases,
    ownProject: (userId, id) => {
      if (failWith) return Promise.reject(failWith);
      return app.root.useCases.ownProject(userId, id);
    },
    chargeUsage: (...args) => {
      if (failWith) return Promise.reject(failWith);
      return app.root.useCases.chargeUsage(...args);
    },
  };
  const deps = app.root.apiDeps({ adminApiKey: ADMIN_KEY, logger: log.logger });
  server = await listen(createApp({ ...deps, useCases }), 0, '127.0.0.1');
  const funded = await fundedUser(app.sql, app.ledger, 1000);
  user = { id: funded.user.id, apiKey: funded.apiKey };
});
afterAll(async () => {
  await server?.close();
  await app?.close();
});
beforeEach(() => {
  failWith = undefined;
  log.raw.length = 0;
});

/** Lines are written when the answer is done: the client may have the answer a moment before. */
async function linesOf(requestId: string, count: number): Promise<Line[]> {
  for (let i = 0; i < 100; i++) {
    const lines = log.lines().filter((line) => line.requestId === requestId);
    if (lines.length >= count) return lines;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`fewer than ${count} lines for ${requestId}: ${log.raw.join('')}`);
}

const secretCookie = `${SESSION_COOKIE}=${'c'.repeat(43)}; theme=session-secret-${randomUUID()}`;

describe('the request line', () => {
  test('when a user asks for a project, then one JSON line names the request, the user, the route pattern, the status and the latency', async () => {
    const projectId = randomUUID();
    const res = await fetch(`${server.url}/v1/projects/${projectId}`, {
      headers: { authorization: `Bearer ${user.apiKey}`, cookie: secretCookie },
    });
    expect(res.status).toBe(404);
    const requestId = res.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const lines = await linesOf(requestId, 1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'request',
      requestId,
      userId: user.id,
      method: 'GET',
      route: '/v1/projects/:id',
      status: 404,
    });
    expect(typeof lines[0]!.latencyMs).toBe('number');
    expect(lines[0]!.latencyMs).toBeGreaterThan(0);
    expect(Math.abs((lines[0]!.time as number) - Date.now())).toBeLessThan(60_000); // epoch ms
    const text = log.raw.join('');
    expect(text).not.toContain(projectId); // the pattern, never the raw URL
    expect(text).not.toContain(user.apiKey);
    expect(text).not.toContain(secretCookie.split('; ')[0]!.split('=')[1]);
    expect(text).not.toContain('session-secret');
    expect(text.toLowerCase()).not.toContain('bearer');
    expect(text.toLowerCase()).not.toContain('authorization');
  });

  test('when the caller sends a well-formed X-Request-Id, then its lines carry it and the answer echoes it', async () => {
    const given = `trace-${randomUUID()}`;
    const res = await fetch(`${server.url}/v1/balance`, {
      headers: { authorization: `Bearer ${user.apiKey}`, 'x-request-id': given },
    });
    expect(res.headers.get('x-request-id')).toBe(given);
    const [line] = await linesOf(given, 1);
    expect(line).toMatchObject({ requestId: given, userId: user.id, method: 'GET', status: res.status });
  });

  test.each([
    ['too long', 'x'.repeat(65)],
    ['with a space', 'a b'],
    ['not ASCII', 'caf\u00e9'],
  ])('when the X-Request-Id is %s, then a new id is made and echoed', async (_what, given) => {
    const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': given } });
    const requestId = res.headers.get('x-request-id')!;
    expect(requestId).not.toBe(given);
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const [line] = await linesOf(requestId, 1);
    expect(line!.userId).toBeUndefined();
    expect(JSON.stringify(log.raw)).not.toContain(given === 'a b' ? '"a b"' : given);
  });

  test('when no route matches, then the line says unmatched, not the path', async () => {
    const res = await fetch(`${server.url}/v1/nothing-here/${randomUUID()}`);
    expect(res.status).toBe(404);
    const [line] = await linesOf(res.headers.get('x-request-id')!, 1);
    expect(line).toMatchObject({ route: 'unmatched', status: 404, method: 'GET' });
  });
});

describe('a use case that fails', () => {
  test('when an Express route fails unexpectedly, then the error line and the request line carry the same id and user', async () => {
    failWith = new Error('the use case broke');
    const given = randomUUID();
    const res = await fetch(`${server.url}/v1/projects/${randomUUID()}`, {
      headers: { authorization: `Bearer ${user.apiKey}`, 'x-request-id': given },
    });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-request-id')).toBe(given);
    const lines = await linesOf(given, 2);
    const error = lines.find((line) => line.msg === 'unhandled error');
    expect(error).toMatchObject({ level: 'error', requestId: given, userId: user.id });
    expect(error!.err!.message).toBe('the use case broke');
    expect(lines.find((line) => line.msg === 'request')).toMatchObject({
      level: 'error',
      requestId: given,
      userId: user.id,
      route: '/v1/projects/:id',
      status: 500,
    });
  });
});

describe('the usage fast path', () => {
  const charge = (headers: Record<string, string> = {}) =>
    fetch(`${server.url}/v1/usage`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${user.apiKey}`,
        'content-type': 'application/json',
        cookie: secretCookie,
        ...headers,
      },
      body: JSON.stringify({ eventId: randomUUID(), feature: 'conversation', outputTokens: 10 }),
    });

  test('when a charge is served outside Express, then its line has the same fields, route /v1/usage', async () => {
    const res = await charge();
    expect(res.status).toBe(201);
    const requestId = res.headers.get('x-request-id')!;
    const lines = await linesOf(requestId, 1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      msg: 'request',
      requestId,
      userId: user.id,
      method: 'POST',
      route: '/v1/usage',
      status: 201,
    });
    expect(typeof lines[0]!.latencyMs).toBe('number');
    expect(log.raw.join('')).not.toContain(user.apiKey);
    expect(log.raw.join('')).not.toContain('session-secret');
  });

  test('when its charge fails unexpectedly, then the error line carries the request id given', async () => {
    failWith = new Error('the charger broke');
    const given = `usage-${randomUUID()}`;
    const res = await charge({ 'x-request-id': given });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-request-id')).toBe(given);
    const lines = await linesOf(given, 2);
    expect(lines.find((line) => line.msg === 'unhandled error')).toMatchObject({
      requestId: given,
      userId: user.id,
      err: { message: 'the charger broke' },
    });
    expect(lines.find((line) => line.msg === 'request')).toMatchObject({ route: '/v1/usage', status: 500 });
  });
});

describe('the Temporal runtime logger', () => {
  test('when the SDK logs with metadata, then the line has its fields, its error as err, and the level filters', () => {
    const { logger, lines } = capturingLogger('info');
    const temporal = temporalLogger(logger);
    temporal.debug('Workflow started', { workflowId: 'w1' });
    temporal.info('Activity completed', { activityType: 'chargeTask', workflowId: 'w1' });
    temporal.log('WARN', 'Activity failed', { error: new Error('card declined'), sdkComponent: 'activity' });
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'info',
        msg: 'Activity completed',
        activityType: 'chargeTask',
        workflowId: 'w1',
      }),
      expect.objectContaining({
        level: 'warn',
        msg: 'Activity failed',
        sdkComponent: 'activity',
        err: expect.objectContaining({ message: 'card declined', type: 'Error' }),
      }),
    ]);
  });
});

describe('the logger', () => {
  test('when a caller logs credentials by their usual names, then they are redacted', () => {
    const { logger, raw } = capturingLogger();
    logger.info(
      { headers: { authorization: 'Bearer sk_secret_1', cookie: 'credits_session=secret_2' } },
      'oops',
    );
    logger.info({ apiKey: 'secret_3', authorization: 'secret_4' }, 'oops again');
    const text = raw.join('');
    for (const secret of ['sk_secret_1', 'secret_2', 'secret_3', 'secret_4'])
      expect(text).not.toContain(secret);
    expect(text).toContain('[redacted]');
  });
});

describe('the worker', () => {
  test('when a workflow runs its activity, then the SDK’s workflow and activity lines come through the logger as JSON', async () => {
    const runtime = capturingLogger('debug');
    expect(installRuntimeLogger(runtime.logger)).toBe(true); // the first worker of this file
    expect(installRuntimeLogger(runtime.logger)).toBe(false); // one runtime per process
    const worker = await startTestWorker(app);
    const workflowId = `log-sweeper-${randomUUID()}`;
    const handle = await app.temporal.workflow.start(holdSweeperWorkflow, {
      args: [{ intervalSeconds: 60, sweepsPerRun: 1 }],
      taskQueue: app.taskQueue,
      workflowId,
    });
    try {
      const seen = async (predicate: (line: Line) => boolean) => {
        for (let i = 0; i < 200 && !runtime.lines().some(predicate); i++) {
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        return runtime.lines().find(predicate);
      };
      // Logged inside the workflow's sandbox and sunk to the runtime logger.
      expect(
        await seen((line) => line.workflowId === workflowId && line.msg === 'Workflow started'),
      ).toMatchObject({ level: 'debug', workflowType: 'holdSweeperWorkflow', taskQueue: app.taskQueue });
      expect(
        await seen((line) => line.workflowId === workflowId && line.msg === 'Activity completed'),
      ).toMatchObject({
        level: 'debug',
        activityType: 'sweepExpiredHolds',
        workflowType: 'holdSweeperWorkflow',
      });
      // The native core's own lines are forwarded too.
      expect(runtime.lines().some((line) => line.sdkComponent === 'core')).toBe(true);
    } finally {
      await handle.terminate();
      await worker.stop();
    }
  });
});

describe('LOG_LEVEL', () => {
  test('when unset, then info; a level is taken; anything else stops the start naming it', () => {
    expect(parseEnv({}).LOG_LEVEL).toBe('info');
    expect(parseEnv({ LOG_LEVEL: 'silent' }).LOG_LEVEL).toBe('silent');
    expect(parseEnv({ LOG_LEVEL: 'debug' }).LOG_LEVEL).toBe('debug');
    expect(() => parseEnv({ LOG_LEVEL: 'verbose' })).toThrow(/^invalid configuration: LOG_LEVEL: /);
  });
});
