import { randomUUID } from 'node:crypto';
import { ADMIN_KEY, http, signUp, startTestApp, type TestApp } from '../support/app';

// No worker: nothing here starts a workflow (requests and packages are rows; mail is the outbox).
let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(async () => {
  await app?.close();
});

interface RequestView {
  id: string;
  status: string;
  credits: number;
  message: string | null;
  packageId: string | null;
  createdAt: string;
  answeredAt: string | null;
  userId?: string;
  email?: string;
}

interface ErrorBody {
  error: { code: string; message: string };
}

function ask(key: string, body: unknown, headers?: Record<string, string>) {
  return api.post<RequestView & ErrorBody>('/v1/package-requests', body, key, headers);
}

async function asked(key: string, credits: number, message?: string): Promise<RequestView> {
  const res = await ask(key, { credits, ...(message === undefined ? {} : { message }) });
  expect(res.status).toBe(201);
  return res.body;
}

async function mine(key: string): Promise<RequestView[]> {
  const res = await api.get<{ data: RequestView[] }>('/v1/package-requests', key);
  expect(res.status).toBe(200);
  return res.body.data;
}

async function operatorList(query = ''): Promise<RequestView[]> {
  const res = await api.get<{ data: RequestView[] }>(
    `/v1/admin/package-requests?limit=500${query}`,
    ADMIN_KEY,
  );
  expect(res.status).toBe(200);
  return res.body.data;
}

function answer(body: Record<string, unknown>, headers?: Record<string, string>) {
  return api.post<{ id: string; status: string; requestId: string | null; notified?: boolean } & ErrorBody>(
    '/v1/admin/packages',
    { name: 'Team plan', credits: 250_000, priceCents: 150_000, currency: 'usd', ...body },
    ADMIN_KEY,
    headers,
  );
}

async function mailTo(userId: string) {
  return app.sql<{ kind: string; subject: string; body: string; recipient: string }[]>`
    SELECT kind, subject, body, recipient FROM outbox WHERE user_id = ${userId} AND kind = 'package_ready'`;
}

async function visibleIds(key: string): Promise<string[]> {
  const res = await api.get<{ data: { id: string }[] }>('/v1/packages', key);
  return res.body.data.map((p) => p.id);
}

/** The credits page's contact-sales form, as a browser would post it (or another site, with `origin`). */
function postForm(key: string, fields: Record<string, string>, origin?: string) {
  return fetch(`${app.url}/usercredits/package-requests`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      authorization: `Bearer ${key}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...(origin ? { origin } : {}),
    },
    body: new URLSearchParams(fields),
  });
}

test('when a user contacts sales, then 201 with an open request that they and the operator can list', async () => {
  const user = await signUp(api);
  const other = await signUp(api);
  const res = await ask(user.apiKey, { credits: 250_000, message: 'For our team of 40.\nInvoice please.' });
  expect(res.status).toBe(201);
  expect(res.body).toEqual({
    id: expect.any(String),
    status: 'open',
    credits: 250_000,
    message: 'For our team of 40.\nInvoice please.',
    packageId: null,
    createdAt: expect.any(String),
    answeredAt: null,
  });
  expect((await mine(user.apiKey)).map((r) => r.id)).toEqual([res.body.id]);
  expect(await mine(other.apiKey)).toEqual([]);
  const listed = (await operatorList('&status=open')).find((r) => r.id === res.body.id);
  expect(listed).toMatchObject({ userId: user.id, email: user.email, status: 'open', credits: 250_000 });
});

test('when the operator answers a request with a package, then it is answered, the user is emailed and only they see the package', async () => {
  const user = await signUp(api);
  const other = await signUp(api);
  const request = await asked(user.apiKey, 300_000, 'Yearly');
  // visibleTo names someone else only: the requester is added, since the email promises them the package.
  const colleague = `colleague-${randomUUID().slice(0, 8)}@example.test`;
  const created = await answer({ visibleTo: [colleague], requestId: request.id, name: 'Yearly 300k' });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ requestId: request.id, status: 'active', notified: true });

  const [answered] = await mine(user.apiKey);
  expect(answered).toMatchObject({ id: request.id, status: 'answered', packageId: created.body.id });
  expect(answered!.answeredAt).not.toBeNull();
  expect((await operatorList('&status=answered')).map((r) => r.id)).toContain(request.id);
  expect((await operatorList('&status=open')).map((r) => r.id)).not.toContain(request.id);

  const mails = await mailTo(user.id);
  expect(mails).toHaveLength(1);
  expect(mails[0]).toMatchObject({ recipient: user.email });
  expect(mails[0]!.subject).toContain('ready');
  expect(mails[0]!.body).toContain('Yearly 300k');
  expect(mails[0]!.body).toContain(`${app.url}/usercredits`);

  expect(await visibleIds(user.apiKey)).toContain(created.body.id);
  expect(await visibleIds(other.apiKey)).not.toContain(created.body.id);
  const page = (await api.raw<string>('GET', '/usercredits', { key: user.apiKey })).body;
  expect(page).toContain(`data-package-id="${created.body.id}"`);
  expect(page).toContain(`data-request-id="${request.id}" data-status="answered"`);
});

test('when a request was answered, then a second package for it is 409 and not created; the same key replays without a second email', async () => {
  const user = await signUp(api);
  const request = await asked(user.apiKey, 50_000);
  const key = randomUUID();
  const first = await answer({ visibleTo: [user.id], requestId: request.id }, { 'idempotency-key': key });
  const replay = await answer({ visibleTo: [user.id], requestId: request.id }, { 'idempotency-key': key });
  expect([first.status, replay.status]).toEqual([201, 200]);
  expect(replay.body.id).toBe(first.body.id);

  const second = await answer({ visibleTo: [user.id], requestId: request.id, name: 'Another offer' });
  expect(second.status).toBe(409);
  expect(second.body.error.message).toMatch(/^requestId:/);
  const rows = await app.sql`SELECT id FROM packages WHERE name = 'Another offer' AND custom`;
  expect(rows).toHaveLength(0);
  expect(await mailTo(user.id)).toHaveLength(1);
});

test('when two packages answer one request at once, then one is made and the other is refused', async () => {
  const user = await signUp(api);
  const request = await asked(user.apiKey, 75_000);
  const names = [`Race A ${randomUUID()}`, `Race B ${randomUUID()}`];
  const answers = await Promise.all(
    names.map((name) => answer({ visibleTo: [user.id], requestId: request.id, name })),
  );
  expect(answers.map((r) => r.status).sort()).toEqual([201, 409]);
  const [count] = await app.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM packages WHERE name = ANY(${names})`;
  expect(count!.n).toBe(1);
  expect(await mailTo(user.id)).toHaveLength(1);
});

test('when the request body is bad, then 400 naming the field and nothing is recorded', async () => {
  const user = await signUp(api);
  const cases: [string, unknown][] = [
    ['credits', {}],
    ['credits', { credits: 0 }],
    ['credits', { credits: 2.5 }],
    ['credits', { credits: '1000' }],
    ['credits', { credits: 2_000_000_000 }],
    ['message', { credits: 1000, message: '' }],
    ['message', { credits: 1000, message: 'x'.repeat(2001) }],
    ['message', { credits: 1000, message: 'bell\u0007' }],
    ['surprise', { credits: 1000, surprise: 1 }],
  ];
  for (const [field, body] of cases) {
    const res = await ask(user.apiKey, body);
    expect({ field, status: res.status }).toEqual({ field, status: 400 });
    expect({ field, message: res.body.error.message.split(':')[0] }).toEqual({ field, message: field });
  }
  expect(await mine(user.apiKey)).toEqual([]);
  const bad = await api.get<ErrorBody>('/v1/admin/package-requests?status=closed', ADMIN_KEY);
  expect(bad.status).toBe(400);
});

test('when the caller has no key, or a user key on the operator list, then 401 or 403', async () => {
  const user = await signUp(api);
  expect((await api.post('/v1/package-requests', { credits: 1000 })).status).toBe(401);
  expect((await api.get('/v1/package-requests')).status).toBe(401);
  expect((await api.get('/v1/admin/package-requests', user.apiKey)).status).toBe(403);
});

test('when a user has five open requests, then a sixth is 409; the same Idempotency-Key replays instead', async () => {
  const user = await signUp(api);
  const key = randomUUID();
  const first = await ask(user.apiKey, { credits: 1000 }, { 'idempotency-key': key });
  expect(first.status).toBe(201);
  const replay = await ask(user.apiKey, { credits: 1000 }, { 'idempotency-key': key });
  expect(replay.status).toBe(200);
  expect(replay.body.id).toBe(first.body.id);
  expect((await ask(user.apiKey, { credits: 2000 }, { 'idempotency-key': key })).status).toBe(409);
  await Promise.all([2, 3, 4, 5].map((n) => asked(user.apiKey, n * 1000)));
  const sixth = await ask(user.apiKey, { credits: 6000 });
  expect(sixth.status).toBe(409);
  expect(sixth.body.error.message).toContain('open package requests');
  expect(await mine(user.apiKey)).toHaveLength(5);
});

test('when the credits page form is sent, then one request per form (a double submit is one) and the page lists it', async () => {
  const user = await signUp(api);
  const before = (await api.raw<string>('GET', '/usercredits', { key: user.apiKey })).body;
  expect(before).toContain('form method="post" action="/usercredits/package-requests" id="contact-sales"');
  const requestId = randomUUID();
  const fields = { credits: '40000', message: 'Please <b>call</b> me', requestId };
  const [a, b] = await Promise.all([postForm(user.apiKey, fields), postForm(user.apiKey, fields)]);
  expect([a.status, b.status]).toEqual([303, 303]);
  expect(a.headers.get('location')).toBe('/usercredits#contact-sales-section');
  const requests = await mine(user.apiKey);
  expect(requests).toHaveLength(1);
  expect(requests[0]).toMatchObject({ credits: 40_000, message: 'Please <b>call</b> me', status: 'open' });
  const page = (await api.raw<string>('GET', '/usercredits', { key: user.apiKey })).body;
  expect(page).toContain(`data-request-id="${requests[0]!.id}" data-status="open"`);
  expect(page).toContain('Please &lt;b&gt;call&lt;/b&gt; me');
});

test('when the form comes from another site or is malformed, then it is refused and nothing is recorded', async () => {
  const user = await signUp(api);
  const cross = await postForm(user.apiKey, { credits: '1000' }, 'https://evil.example');
  expect(cross.status).toBe(403);
  expect((await postForm(user.apiKey, { credits: 'lots' })).status).toBe(400);
  expect((await postForm(user.apiKey, { credits: '0' })).status).toBe(400);
  expect((await postForm(user.apiKey, { credits: '1000', message: 'x'.repeat(2001) })).status).toBe(400);
  expect(await mine(user.apiKey)).toEqual([]);
  // An empty message is no message.
  expect((await postForm(user.apiKey, { credits: '1000', message: '  ' })).status).toBe(303);
  expect((await mine(user.apiKey))[0]).toMatchObject({ credits: 1000, message: null });
});
