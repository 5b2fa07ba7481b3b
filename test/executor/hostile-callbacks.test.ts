import { projectTaskTransfers, tasks } from '../projects/support';
import { type HttpResult, http, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import {
  BAD_TEXT,
  errorCode,
  expectError,
  expectRefused,
  PROTOTYPE_NAMES,
  type RawAnswer,
  rawRequest,
} from '../support/hostile';
import { sleep, waitFor } from '../support/wait';
import type { AgentRuntime, RuntimeTask } from './agent-runtime';
import { type ExecutorStack, SECRET, useExecutorStack } from './support';

/**
 * The agent runtime's callbacks under attack (`POST /v1/executor/tasks/:callbackId/{heartbeat,
 * complete,fail}`): one block per class of bad input. Every probe is sent with a real, open task
 * attempt's id and token, so it reaches the check it aims at; each must answer a 4xx in the
 * API's error shape naming what is wrong, and none may touch the attempt: afterwards the task's
 * next attempt resumes from the last *good* heartbeat, and is settled once, as reported.
 */
let app: TestApp;
let runtime: AgentRuntime;
let p: ExecutorStack['p'];
useExecutorStack((stack) => ({ app, runtime, p } = stack));

type Report = 'heartbeat' | 'complete' | 'fail';
const REPORTS: Report[] = ['heartbeat', 'complete', 'fail'];
/** A body each report takes as it is: what the probes spoil one field at a time. */
const GOOD: Record<Report, Record<string, unknown>> = {
  heartbeat: { progress: 0.5, checkpoint: 'good' },
  complete: { usedCredits: 1, output: 'x' },
  fail: { message: 'x', retryable: true },
};
/** What each report's fields must be (README "Agent runtime"), and values that are not. */
const BAD_VALUES: Record<Report, Record<string, unknown[]>> = {
  heartbeat: {
    progress: [-0.01, 1.0001, 1e308, -1e308, '0.5', null, true, [], {}],
    checkpoint: ['x'.repeat(10_001), 42, null, [], {}],
  },
  complete: {
    usedCredits: [-1, -1e-9, 0.5, 1.5, 1e308, 2 ** 53, 2 ** 63, '10', null, true, [], {}],
    output: ['x'.repeat(20_001), '', 42, null, [], {}],
  },
  fail: {
    message: ['x'.repeat(1001), '', 42, null, [], {}],
    retryable: ['true', 1, null, [], {}],
  },
};
/** Text fields: every string of BAD_TEXT is refused in them (a checkpoint may be blank, not broken). */
const TEXT_FIELDS: Record<Report, string[]> = {
  heartbeat: ['checkpoint'],
  complete: ['output'],
  fail: ['message'],
};
const BLANK = new Set([
  'only spaces',
  'only a tab and a line break',
  'only no-break spaces',
  'only a zero-width space',
]);

/**
 * Runs one task of a fresh project on the runtime and holds its first attempt open, heartbeating
 * `GOOD.heartbeat` every 500 ms, until `release` is called; then the attempt goes silent (the
 * runtime "died") and Temporal re-sends the task after the heartbeat timeout.
 */
async function heldTask() {
  let held: RuntimeTask | undefined;
  let released = false;
  const second: RuntimeTask[] = [];
  const user = await fundedUser(app.sql, app.ledger, 1000);
  runtime.use((task, callback) => {
    if (task.attempt > 1) {
      second.push(task);
      return {};
    }
    held = task;
    return {
      work: async () => {
        while (!released) {
          const res = await callback.heartbeat(GOOD.heartbeat);
          expect([res.status, res.body]).toEqual([200, { cancelRequested: false }]);
          await sleep(500);
        }
      },
    };
  });
  const project = await p.start(user.apiKey, { name: 'held', tasks: tasks(1, 'small') });
  const task = await waitFor('the task at the runtime', async () => held);
  return {
    user,
    project,
    task,
    release: () => {
      released = true;
    },
    nextAttempt: () => waitFor('the task sent again', async () => second[0], 30_000),
  };
}

function pathOf(task: RuntimeTask, report: Report): string {
  return new URL(task.callback[`${report}Url`]).pathname;
}

describe('when a runtime sends hostile callbacks to an open task attempt', () => {
  test('then each is a 4xx naming what is wrong, the attempt goes on untouched, and the task is settled once, as reported after', async () => {
    const held = await heldTask();
    // A failed expectation must not leave the runtime heartbeating for ever.
    try {
      await probe(held);
    } finally {
      held.release();
    }
    const next = await held.nextAttempt();
    expect(next.lastHeartbeat).toEqual(GOOD.heartbeat);

    // Ten reports of the same result at once, with different numbers: one is taken, the rest are 409.
    const racing = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        http(app.url).post(
          pathOf(next, 'complete'),
          { usedCredits: 10 + i, output: `report ${i}` },
          next.callback.token,
        ),
      ),
    );
    const taken = racing.filter((r) => r.status === 200);
    expect(taken).toHaveLength(1);
    expect(racing.filter((r) => r.status !== 200).map((r) => [r.status, errorCode(r.body)])).toEqual(
      Array.from({ length: 9 }, () => [409, 'attempt_closed']),
    );
    const winner = racing.indexOf(taken[0]!);
    const done = await p.until(
      held.user.apiKey,
      held.project.id,
      'completed',
      (x) => x.status === 'completed',
    );
    expect(done).toMatchObject({ creditsSpent: 10 + winner, creditsReserved: 0 });
    expect(await projectTaskTransfers(app, held.user.user.id)).toEqual([
      expect.objectContaining({ amount: 10 + winner }),
    ]);
    // The first attempt, back from the dead with a good body, is closed.
    const late = await http(app.url).post(
      pathOf(held.task, 'complete'),
      GOOD.complete,
      held.task.callback.token,
    );
    expectError(late, 409, 'attempt_closed');
  }, 120_000);
});

/** Every hostile report on the held attempt; none may reach Temporal. */
async function probe(held: Awaited<ReturnType<typeof heldTask>>) {
  const { task } = held;
  const api = http(app.url);
  const token = task.callback.token;
  const send = (report: Report, body: unknown) => api.post(pathOf(task, report), body, token);
  const sendRaw = (report: Report, raw: string, headers: Record<string, string> = {}) =>
    api.raw('POST', pathOf(task, report), { key: token, raw, headers });

  // Values of the wrong type, range or size, one field at a time.
  for (const report of REPORTS) {
    for (const [field, values] of Object.entries(BAD_VALUES[report])) {
      for (const value of values) {
        const res = await send(report, { ...GOOD[report], [field]: value });
        expect({ report, value, ...errorOf(res) }).toEqual({ report, value, ...refusedView(field) });
      }
    }
    // Text no database or runtime should have to hold: control characters, lone surrogates, blanks.
    for (const field of TEXT_FIELDS[report]) {
      for (const [name, bad] of Object.entries(BAD_TEXT)) {
        if (report === 'heartbeat' && BLANK.has(name)) continue;
        const res = await send(report, { ...GOOD[report], [field]: bad });
        expect({ report, name, ...errorOf(res) }).toEqual({ report, name, ...refusedView(field) });
      }
    }
    // Numbers JSON can write but a double cannot hold, and numbers past 2^63.
    const numeric = report === 'heartbeat' ? 'progress' : report === 'complete' ? 'usedCredits' : null;
    if (numeric) {
      for (const literal of ['1e400', '-1e400', '9223372036854775808', '18446744073709551616', '-0.5e1']) {
        const raw = JSON.stringify({ ...GOOD[report], [numeric]: 0 }).replace(/:0([,}])/, `:${literal}$1`);
        expectRefused(await sendRaw(report, raw), numeric);
      }
    }
  }

  // Object-property names as fields, as JSON writes them (an own "__proto__" key included).
  for (const report of REPORTS) {
    for (const name of [...PROTOTYPE_NAMES, 'prototype']) {
      const raw = `${JSON.stringify(GOOD[report]).slice(0, -1)},"${name}":{"usedCredits":999,"retryable":false}}`;
      expectRefused(await sendRaw(report, raw), name);
    }
    // A body that is only a prototype key: the report's own fields are still missing.
    const only = await sendRaw(report, '{"__proto__":{"usedCredits":1,"output":"x","message":"x"}}');
    if (report === 'heartbeat') expectRefused(only, '__proto__');
    else expect(only.status).toBe(400);
  }

  // Bodies that are not an object, or not JSON.
  for (const report of REPORTS) {
    expectRefused(await sendRaw(report, '[]'), 'body');
    expectRefused(await sendRaw(report, `[${JSON.stringify(GOOD[report])}]`), 'body');
    for (const raw of ['"text"', 'null', '42', 'true', '{', '{"usedCredits":1,}', '\u0000', 'NaN']) {
      expectError(await sendRaw(report, raw), 400, 'invalid_json', 'body');
    }
  }

  // A body of another content type, or none at all: never read as an empty report.
  for (const report of REPORTS) {
    const json = JSON.stringify(GOOD[report]);
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'application/xml',
    ]) {
      const res = await sendRaw(report, json, { 'content-type': type });
      expect({ report, type, ...errorOf(res) }).toEqual({
        report,
        type,
        status: 415,
        code: 'unsupported_media_type',
        field: 'Content-Type',
      });
    }
    const untyped = await rawRequest(app.url, {
      method: 'POST',
      path: pathOf(task, report),
      headers: { Authorization: `Bearer ${token}` },
      body: json,
    });
    expect({ report, ...rawErrorOf(untyped) }).toEqual({
      report,
      status: 415,
      code: 'unsupported_media_type',
      field: 'Content-Type',
    });
    // A charset JSON is never sent in, and a content encoding that is garbage or unknown.
    const utf16 = await sendRaw(report, json, { 'content-type': 'application/json; charset=utf-16' });
    expectError(utf16, 400, 'invalid_json', 'body'); // UTF-8 bytes read as UTF-16 are no JSON
    const latin1 = await sendRaw(report, json, { 'content-type': 'application/json; charset=latin1' });
    expectError(latin1, 415, 'unsupported_media_type', 'Content-Type');
    const gzip = await rawRequest(app.url, {
      method: 'POST',
      path: pathOf(task, report),
      headers: {
        Authorization: `Bearer ${token}`,
        'Content-Type': 'application/json',
        'Content-Encoding': 'gzip',
      },
      body: 'not gzip at all',
    });
    expect(rawErrorOf(gzip)).toMatchObject({ status: 400 });
    const unknown = await sendRaw(report, json, { 'content-encoding': 'x-unknown' });
    expectError(unknown, 415, 'unsupported_media_type', 'Content-Encoding');
  }

  // Enormous bodies: refused at the limit, whatever the declared or real size, without a hang.
  const huge = JSON.stringify({ ...GOOD.complete, output: 'x'.repeat(101 * 1024) });
  expectError(await sendRaw('complete', huge), 413, 'payload_too_large', 'body');
  const enormous = await rawRequest(app.url, {
    method: 'POST',
    path: pathOf(task, 'complete'),
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: Buffer.alloc(20 * 1024 * 1024, 'x'),
  });
  expect(rawErrorOf(enormous)).toMatchObject({ status: 413, code: 'payload_too_large' });

  // Callback ids: control characters, NUL, traversal, length: 400 naming callbackId.
  const base = pathOf(task, 'complete').replace(/\/[^/]+\/complete$/, '');
  for (const id of [
    `${task.callback.token.slice(0, 20)}%00`,
    `%00${'A'.repeat(20)}`,
    `${'A'.repeat(20)}%07`,
    `${'A'.repeat(20)}%1B%5B31m`,
    `${'A'.repeat(20)}%C2%85`,
    `${'A'.repeat(20)}%EF%BF%BD`,
    '..%2F..%2Fadmin%2Fgrants',
    '__proto__',
    'constructor',
    'A'.repeat(2001),
    'A'.repeat(15),
  ]) {
    const res = await api.post(`${base}/${id}/complete`, GOOD.complete, token);
    expect({ id: id.slice(0, 40), status: res.status, code: errorCode(res.body) }).toEqual({
      id: id.slice(0, 40),
      status: 400,
      code: 'validation_error',
    });
    expectRefused(res, 'callbackId');
  }
  // Bytes that are not UTF-8 (a lone surrogate's, a cut sequence) cannot be decoded at all: 400.
  for (const id of [
    `${'A'.repeat(20)}%ED%A0%80`,
    `${'A'.repeat(20)}%ED%B0%80`,
    `${'A'.repeat(20)}%E0%A4%A`,
    `${'A'.repeat(20)}%`,
  ]) {
    const res = await api.post(`${base}/${id}/complete`, GOOD.complete, token);
    expectError(res, 400, 'validation_error', 'path');
  }
  // An id of the right shape that names no attempt, prototype names included: this token is not its.
  for (const id of ['__proto____proto__', 'constructorconstructor', 'A'.repeat(2000)]) {
    expectError(
      await api.post(`${base}/${id}/complete`, GOOD.complete, token),
      401,
      'unauthorized',
      'Authorization',
    );
  }

  // Credentials: missing, another scheme, empty, not base64url, enormous, control bytes.
  const path = pathOf(task, 'complete');
  for (const authorization of [
    '',
    `Basic ${token}`,
    'Bearer',
    'Bearer ',
    `Bearer ${token}x`,
    // Characters a base64 decoder skips: the same bytes, but not the token that was issued.
    `Bearer ${token}!`,
    `Bearer ${token}=`,
    `Bearer ${token.slice(0, 10)}.${token.slice(10)}`,
    `Bearer ${token.slice(0, -1)}`,
    `Bearer ${'A'.repeat(8000)}`,
    `Bearer ${token} ${token}`,
    `bearer  ${token.replace(/./, '!')}`,
  ]) {
    const res = await api.raw('POST', path, { json: GOOD.complete, headers: { authorization } });
    expectError(res, 401, 'unauthorized', 'Authorization');
  }
  for (const bytes of ['\u0000', '\u0001', '\u007f', '\u00e9\u00ff']) {
    const res = await rawRequest(app.url, {
      method: 'POST',
      path,
      headers: { Authorization: `Bearer ${token}${bytes}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(GOOD.complete),
    });
    expect({ bytes, status: res.status }).toEqual({ bytes, status: expect.any(Number) });
    expect([400, 401]).toContain(res.status);
  }
  // Other methods on the callback paths are no route.
  for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
    const res = await api.raw(method, path, { key: token });
    expect([method, res.status]).toEqual([method, 404]);
  }

  // Nothing above reached Temporal: the attempt is still open, its checkpoint the good one.
  expect(await p.get(held.user.apiKey, held.project.id)).toMatchObject({
    status: 'running',
    tasksCompleted: 0,
    creditsSpent: 0,
    creditsReserved: 25,
  });
}

function refusedView(field: string) {
  return { status: 400, code: 'validation_error', field };
}

/** An error answer as status, code and the field its message names first. */
function errorOf(res: HttpResult<unknown>) {
  const error = (res.body as { error?: { code: string; message: string } }).error;
  return { status: res.status, code: error?.code, field: error?.message.split(':')[0] };
}

function rawErrorOf(res: RawAnswer) {
  const body = res.body.startsWith('{')
    ? (JSON.parse(res.body) as { error?: { code: string; message: string } })
    : {};
  return { status: res.status, code: body.error?.code, field: body.error?.message.split(':')[0] };
}

describe('when a runtime sends its report too slowly', () => {
  test('then a body that never arrives in full is a 408 within the request deadline and the connection is closed', async () => {
    // An API of its own with a short deadline; a body that is not all there never reaches a route.
    const slow = await startTestApp({ executorCallbackSecret: SECRET, requestDeadlineMs: 1000 });
    try {
      const path = `/v1/executor/tasks/${'A'.repeat(20)}/complete`;
      const started = Date.now();
      const [short, endless] = await Promise.all([
        // Claims 100 bytes, sends 10.
        rawRequest(slow.url, {
          method: 'POST',
          path,
          headers: { 'Content-Type': 'application/json', 'Content-Length': '100' },
          body: '{"usedCre',
        }),
        // A chunked body that has no end.
        rawRequest(slow.url, {
          method: 'POST',
          path,
          headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
          body: 'a\r\n{"aaaaaaa"\r\n'.repeat(10),
        }),
      ]);
      for (const res of [short, endless]) {
        expect(rawErrorOf(res)).toEqual({ status: 408, code: 'request_timeout', field: 'body' });
        expect(res.head.toLowerCase()).toContain('connection: close');
      }
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await slow.close();
    }
  });
});
