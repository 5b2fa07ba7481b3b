import { PROJECT_EVENTS_PATH, type ProjectRowView } from '../../api/pages/projects';
import { PROJECT_STREAM_LIMITS } from '../../api/routes/project-events';
import { projectsApi, tasks } from '../projects/support';
import { http, signUp, startTestApp, type TestApp } from '../support/app';
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
