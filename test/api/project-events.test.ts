import { connect } from 'node:net';
import express from 'express';
import { streamFromHub } from '../../api/event-stream';
import { PROJECT_EVENTS_PATH, type ProjectRowView } from '../../api/pages/projects';
import { ProjectProgressHub, type Subscription, type UserProject } from '../../api/project-progress-hub';
import { PROJECT_STREAM_LIMITS } from '../../api/routes/project-events';
import { PROJECT_API_STREAM_LIMITS } from '../../api/routes/projects';
import { listen } from '../../api/server';
import { projectsApi, tasks } from '../projects/support';
import { http, signUp, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { errorCode, rawRequest } from '../support/hostile';
import { checkAnswer } from '../support/openapi-validator';
import { type EventStream, openEventStream } from '../support/sse';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker } from '../support/worker';

/**
 * Issue 17: the credits page's live project progress, `GET /usercredits/projects/events`
 * (api/routes/project-events.ts): authenticated by the page's session cookie, a stream of
 * `progress` events, and a bounded number of streams per user.
 */
let app: TestApp;
let worker: TestWorker;
let api: ReturnType<typeof http>;
let p: ReturnType<typeof projectsApi>;
const streams: EventStream[] = [];

beforeAll(async () => {
  app = await startTestApp();
  // Slow tasks, so a project's progress moves in steps a stream can see.
  worker = await startTestWorker(app, { taskMs: 400, usageBp: 10_000 });
  api = http(app.url);
  p = projectsApi(app);
});
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

/** Signs in as the credits page's form does; the session cookie, ready for a Cookie header. */
async function sessionCookie(apiKey: string): Promise<string> {
  const res = await fetch(`${app.url}/usercredits/session`, {
    method: 'POST',
    body: new URLSearchParams({ apiKey }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

async function open(cookie: string): Promise<EventStream> {
  const stream = await openEventStream(`${app.url}${PROJECT_EVENTS_PATH}`, { cookie });
  streams.push(stream);
  return stream;
}

const progress = (stream: EventStream, ok: (row: ProjectRowView) => boolean) =>
  stream.until((e) => e.event === 'progress' && ok(e.data as ProjectRowView));

test('when no session or key is sent, then the stream answers 401 with the error body', async () => {
  const res = await api.raw('GET', PROJECT_EVENTS_PATH);
  expect(res.status).toBe(401);
  expect(res.body).toMatchObject({ error: { code: 'unauthorized' } });
});

test('when a signed-in user runs a project, then the stream sends it at once and each step until it completes', async () => {
  const user = await signUp(api);
  await p.grant(user.id, 1000);
  const cookie = await sessionCookie(user.apiKey);
  const project = await p.start(user.apiKey, { name: 'streamed', tasks: tasks(4, 'small') });

  const stream = await open(cookie);
  expect(stream.response.status).toBe(200);
  expect(stream.response.headers.get('content-type')).toBe('text/event-stream');
  expect(stream.response.headers.get('cache-control')).toBe('no-store');
  checkAnswer({
    method: 'GET',
    path: PROJECT_EVENTS_PATH,
    status: 200,
    contentType: stream.response.headers.get('content-type'),
    body: '',
  });

  const first = await progress(stream, (row) => row.id === project.id);
  expect(first.data).toMatchObject({ id: project.id, name: 'streamed' });
  const done = await progress(stream, (row) => row.id === project.id && row.status === 'completed');
  expect(done.data).toMatchObject({ tasksCompleted: 4, tasksTotal: 4, tasksText: '4 of 4 tasks done' });
  // Only changes are sent: each step once, in order, never backwards.
  const steps = stream.seen
    .map((e) => e.data as ProjectRowView)
    .filter((row) => row.id === project.id)
    .map((row) => row.tasksCompleted);
  expect(steps).toEqual([...steps].sort((a, b) => a - b));
  expect(new Set(steps).size).toBeGreaterThanOrEqual(3);
});

test('when a project starts after the stream opened, then it arrives on the stream', async () => {
  const user = await signUp(api);
  await p.grant(user.id, 1000);
  const stream = await open(await sessionCookie(user.apiKey));
  const project = await p.start(user.apiKey, { name: 'late', tasks: tasks(1, 'small') });
  await progress(stream, (row) => row.id === project.id && row.status === 'completed');
});

test('when a user opens more streams than allowed, then the extra one is a 429 until one closes', async () => {
  const user = await signUp(api);
  const cookie = await sessionCookie(user.apiKey);
  const open_ = await Promise.all(
    Array.from({ length: PROJECT_STREAM_LIMITS.perUserStreams }, () => open(cookie)),
  );
  expect(open_.map((s) => s.response.status)).toEqual(open_.map(() => 200));

  const refused = await api.raw('GET', PROJECT_EVENTS_PATH, { headers: { cookie } });
  expect(refused.status).toBe(429);
  expect(refused.headers.get('retry-after')).toBe('3');
  expect(refused.body).toMatchObject({ error: { code: 'too_many_streams' } });

  // Another user is not affected by this one's streams.
  const other = await signUp(api);
  expect((await open(await sessionCookie(other.apiKey))).response.status).toBe(200);

  // A closed stream frees its slot as soon as the server sees the disconnect.
  open_[0]!.close();
  await waitFor('a slot freed', async () => {
    const res = await fetch(`${app.url}${PROJECT_EVENTS_PATH}`, { headers: { cookie } });
    if (res.status !== 200) return null;
    await res.body!.cancel();
    return true;
  });
});

/** Opens `count` streams of `path` at once with `headers`; their statuses, and a closer for all. */
async function openMany(path: string, headers: Record<string, string>, count: number) {
  const opened = await Promise.all(
    Array.from({ length: count }, () => openEventStream(`${app.url}${path}`, headers)),
  );
  streams.push(...opened);
  return opened.map((s) => s.response.status);
}

/** Closes every stream opened so far and waits until `count` streams of `path` open at once again. */
async function slotsFreed(path: string, headers: Record<string, string>, count: number) {
  await waitFor(`${count} streams of ${path} open at once`, async () => {
    for (const stream of streams.splice(0)) stream.close();
    const statuses = await openMany(path, headers, count);
    return statuses.every((s) => s === 200);
  });
}

/** Sends a GET and leaves as soon as it is written: before the route has authenticated it. */
function leaveAtOnce(path: string, headers: Record<string, string>): Promise<void> {
  const url = new URL(app.url);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    const head = Object.entries({ Host: url.host, ...headers }).map(([name, value]) => `${name}: ${value}`);
    socket.write(`GET ${path} HTTP/1.1\r\n${head.join('\r\n')}\r\n\r\n`, () => socket.destroy());
  });
}

describe('hostile clients of the progress streams', () => {
  test('when a stream’s credentials are malformed, then 401 in the error shape, whatever the bytes', async () => {
    const user = await signUp(api);
    const cases: Record<string, string>[] = [
      { cookie: 'usercredits_session=' },
      { cookie: `usercredits_session=${'A'.repeat(8000)}` },
      { cookie: 'usercredits_session=%00%ED%A0%80' },
      { cookie: '__proto__=x; constructor=y' },
      { authorization: `Bearer ${user.apiKey}x` },
      { authorization: `Bearer ${'A'.repeat(8000)}` },
      { authorization: `Basic ${user.apiKey}` },
    ];
    for (const headers of cases) {
      const res = await api.raw('GET', PROJECT_EVENTS_PATH, { headers });
      expect({ headers: Object.keys(headers), status: res.status, code: errorCode(res.body) }).toEqual({
        headers: Object.keys(headers),
        status: 401,
        code: 'unauthorized',
      });
    }
    // Bytes fetch refuses to send: Node's parser or the route refuses them, never a 5xx or a stream.
    for (const bytes of ['\u0000', '\u0001', '\u007f', '\u00e9']) {
      const res = await rawRequest(app.url, {
        method: 'GET',
        path: PROJECT_EVENTS_PATH,
        headers: { Cookie: `usercredits_session=${bytes}`, Authorization: `Bearer ${user.apiKey}${bytes}` },
      });
      expect({ bytes, status: res.status }).toEqual({ bytes, status: expect.any(Number) });
      expect([400, 401]).toContain(res.status);
    }
    // A stream is read, never written: other methods are no route.
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await api.raw(method, PROJECT_EVENTS_PATH, { key: user.apiKey, json: {} });
      expect([method, res.status]).toEqual([method, 404]);
    }
  });

  test('when clients leave while their stream is being authenticated, then they hold no slot', async () => {
    const user = await fundedUser(app.sql, app.ledger, 0);
    const project = await p.start(user.apiKey, { name: 'never funded', tasks: tasks(1, 'small') });
    const auth = { authorization: `Bearer ${user.apiKey}` };
    const apiPath = `/v1/projects/${project.id}/events`;
    // Three times each limit of clients that vanish at once: a leaked slot each would lock the user out.
    await Promise.all([
      ...Array.from({ length: 3 * PROJECT_STREAM_LIMITS.perUserStreams }, () =>
        leaveAtOnce(PROJECT_EVENTS_PATH, auth),
      ),
      ...Array.from({ length: 3 * PROJECT_API_STREAM_LIMITS.perUserStreams }, () =>
        leaveAtOnce(apiPath, auth),
      ),
    ]);
    await slotsFreed(PROJECT_EVENTS_PATH, auth, PROJECT_STREAM_LIMITS.perUserStreams);
    await slotsFreed(apiPath, auth, PROJECT_API_STREAM_LIMITS.perUserStreams);
  });
});

describe('the API’s stream of one project, GET /v1/projects/:id/events, on the shared poller', () => {
  test('when a user opens more streams than allowed, then the extra one is a 429 with Retry-After until one closes, and other users are not affected', async () => {
    const user = await fundedUser(app.sql, app.ledger, 0);
    // No credits: the project pauses and stays open, and so do its streams.
    const project = await p.start(user.apiKey, { name: 'paused', tasks: tasks(1, 'small') });
    const path = `/v1/projects/${project.id}/events`;
    const auth = { authorization: `Bearer ${user.apiKey}` };
    const limit = PROJECT_API_STREAM_LIMITS.perUserStreams;
    expect(await openMany(path, auth, limit)).toEqual(Array.from({ length: limit }, () => 200));
    const first = streams.at(-limit)!;
    const event = await first.until((e) => e.event === 'progress');
    expect(event.data).toMatchObject({ id: project.id, name: 'paused' });

    const refused = await api.get(path, user.apiKey);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('3');
    expect(refused.body).toMatchObject({ error: { code: 'too_many_streams' } });
    // The page's streams are counted apart: the user's browser tabs still get theirs.
    expect(await openMany(PROJECT_EVENTS_PATH, auth, 1)).toEqual([200]);

    const other = await fundedUser(app.sql, app.ledger, 0);
    const theirs = await p.start(other.apiKey, { name: 'theirs', tasks: tasks(1, 'small') });
    expect(
      await openMany(`/v1/projects/${theirs.id}/events`, { authorization: `Bearer ${other.apiKey}` }, 1),
    ).toEqual([200]);
    // Another user's project is not found, whatever the limits.
    expect((await api.get(`/v1/projects/${theirs.id}/events`, user.apiKey)).status).toBe(404);

    first.close();
    await waitFor('a slot freed', async () => {
      const res = await fetch(`${app.url}${path}`, { headers: auth });
      await res.body?.cancel();
      return res.status === 200;
    });
  });

  test('when the project ends, then the stream sends each step and the last state, then ends', async () => {
    const user = await fundedUser(app.sql, app.ledger, 1000);
    const project = await p.start(user.apiKey, { name: 'followed', tasks: tasks(3, 'small') });
    const res = await fetch(`${app.url}/v1/projects/${project.id}/events`, {
      headers: { authorization: `Bearer ${user.apiKey}` },
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const events = (await res.text())
      .split('\n\n')
      .filter((block) => block.startsWith('event: progress\ndata: '))
      .map((block) => JSON.parse(block.slice('event: progress\ndata: '.length)) as Record<string, unknown>);
    expect(events.at(-1)).toMatchObject({ id: project.id, status: 'completed', tasksCompleted: 3 });
    // The project's view, as GET /v1/projects/:id answers it, without its task list.
    const { tasks: _, ...current } = (await api.get(`/v1/projects/${project.id}`, user.apiKey)).body;
    expect(events.at(-1)).toEqual(current);
    const steps = events.map((e) => e.tasksCompleted as number);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    // Only changes: no two events alike in a row.
    expect(events.every((e, i) => i === 0 || JSON.stringify(e) !== JSON.stringify(events[i - 1]))).toBe(true);
  });
});

describe('the progress hub and its streams, on their own', () => {
  const limits = { pollMs: 60_000, perUserStreams: 2, totalStreams: 3 };
  const hub = () =>
    new ProjectProgressHub(
      async () => [],
      (row) => row.id,
      limits,
      () => {},
    );
  const listener = { send: () => {} };

  test('when a user holds their limit across topics, then a further stream is user_limit, and a freed one makes room', () => {
    const h = hub();
    const a = h.subscribe('u1', 'p1', listener);
    const b = h.subscribe('u1', 'p2', listener);
    expect(h.subscribe('u1', 'p3', listener)).toBe('user_limit');
    expect(typeof a).toBe('object');
    (b as Subscription).unsubscribe();
    (b as Subscription).unsubscribe(); // twice frees once
    expect(typeof h.subscribe('u1', 'p3', listener)).toBe('object');
    expect(h.subscribe('u1', 'p4', listener)).toBe('user_limit');
    expect(h.openStreams).toBe(2);
  });

  test('when the process holds its limit, then any user’s further stream is server_limit', () => {
    const h = hub();
    for (const user of ['u1', 'u2', 'u3']) expect(typeof h.subscribe(user, 't', listener)).toBe('object');
    expect(h.subscribe('u4', 't', listener)).toBe('server_limit');
    expect(h.openStreams).toBe(3);
  });

  test('when a client stops reading, then its stream is cut once a bounded backlog waits for it, and a client that reads is not', async () => {
    // Fifty rows of 1 KB that all change every 20 ms: 2.5 MB a second, for a client that reads nothing too.
    const name = 'x'.repeat(1024);
    let round = 0;
    const read = async () => {
      round += 1;
      return Array.from({ length: 50 }, (_, i) => projectRow(`p${i}`, name, round));
    };
    const limits = { pollMs: 20, perUserStreams: 2, totalStreams: 2 };
    const h = new ProjectProgressHub(
      read,
      (row) => row.userId,
      limits,
      () => {},
    );
    const server = express().get('/stream', (req, res) =>
      streamFromHub(
        req,
        res,
        h,
        { userId: 'u', topic: 'u' },
        { cacheControl: 'no-store', userLimitMessage: 'two', retryAfterSeconds: 1 },
        {
          projects: (stream, rows) => {
            for (const row of rows) stream.send('progress', row);
          },
        },
      ),
    );
    const running = await listen(server, 0, '127.0.0.1');
    const reading = new AbortController();
    const socket = connect(running.port, '127.0.0.1');
    try {
      const res = await fetch(`${running.url}/stream`, { signal: reading.signal });
      let readerOpen = true;
      void (async () => {
        const body = res.body!.getReader();
        while (!(await body.read()).done);
      })()
        .catch(() => {})
        .finally(() => {
          readerOpen = false;
        });

      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1', 0, Math.min(chunk.length, 64));
      });
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => {});
      socket.write('GET /stream HTTP/1.1\r\nHost: test\r\n\r\n');
      socket.pause(); // reads nothing from here on
      await waitFor('both streams open', async () => h.openStreams === 2);
      await waitFor('the idle stream cut and its slot freed', async () => h.openStreams === 1, 15_000);
      socket.resume(); // the close is seen once the buffered bytes are read
      await closed;
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
      expect({ readerOpen, streams: h.openStreams }).toEqual({ readerOpen: true, streams: 1 });
    } finally {
      reading.abort();
      socket.destroy();
      await running.close();
    }
  });
});

function projectRow(id: string, name: string, tasksCompleted: number): UserProject {
  return {
    id,
    userId: 'u',
    name,
    status: 'running',
    maxCredits: null,
    tasksCompleted,
    tasksTotal: 1_000_000,
    creditsSpent: 0,
    creditsReserved: 0,
    pausedReason: null,
    failureReason: null,
    rateCardVersion: 1,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
}
