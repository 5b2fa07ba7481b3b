import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { availableOf } from '../metering/support';
import { http, startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { fastPathSwitch } from '../support/fast-path-switch';

/**
 * Issue 13, item 1: POST /v1/usage is served by the fast path (api/usage-fast-path.ts) when it
 * can and by Express otherwise; every request must get the same answer either way. Random
 * requests (bodies, content types, charsets, encodings, lengths, keys) go once with the fast path
 * on, for one user, and once with it off, for a twin user in the same state: status, replay
 * header, content type and body must match, and so must the twins' balances and ledgers.
 */
jest.mock('../../api/usage-fast-path', () =>
  jest
    .requireActual<typeof import('../support/fast-path-switch')>('../support/fast-path-switch')
    .switchableFastPath(),
);

let app: TestApp;
let api: ReturnType<typeof http>;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
});
afterAll(() => app.close());

interface RandomRequest {
  text: string;
  /** How the text becomes bytes; `broken` adds bytes that are not UTF-8. */
  bytes: 'utf8' | 'latin1' | 'utf16le' | 'broken';
  /** Pad the body with trailing spaces to this many bytes (lengths around the 100kb limit). */
  padTo: number | null;
  contentType: string | undefined;
  contentEncoding: 'gzip' | 'identity' | 'br' | undefined;
  auth: 'own key' | 'unknown key' | 'none' | 'basic';
}

const LIMIT = 100 * 1024;

/** Values a usage field might hold, well-formed or not. */
const anyValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('', ' ', '\u0000', '\ud800', '1e2', '0x1', '12', 'constructor', '__proto__', 'toString'),
);

/** Bodies close to valid usage events, so most of them charge or fail late. */
const usageish = fc.record(
  {
    feature: fc.oneof(
      fc.constantFrom('conversation', 'continuation', 'rag', 'upskilling'),
      fc.constantFrom('constructor', 'telepathy', ''),
      anyValue,
    ),
    // A few eventIds, so replays and conflicting replays happen.
    eventId: fc.oneof(fc.constantFrom('e1', 'e2', 'e3', 'e4'), anyValue),
    model: fc.oneof(fc.constantFrom('lite', 'standard', 'advanced', 'constructor', 'toString'), anyValue),
    inputTokens: fc.oneof(fc.nat({ max: 10_000_000 }), anyValue),
    outputTokens: fc.oneof(fc.nat({ max: 100_000 }), anyValue),
    trainingUnits: fc.oneof(fc.integer({ min: 1, max: 50 }), anyValue),
    agentId: fc.oneof(fc.uuid(), anyValue),
    extra: anyValue,
  },
  { requiredKeys: ['feature', 'eventId'] },
);

const bodyText = fc.oneof(
  { weight: 6, arbitrary: usageish.map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  // What strict JSON parsing and BOM handling disagree on.
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom('', ' ', '\t\n\r ', '\ufeff', '\ufeff\ufeff', '\u00a0', '\u2028', '\u000b', '\u0000'),
        usageish.map((b) => JSON.stringify(b)),
        fc.constantFrom('', ' ', '\n', '\u00a0', 'x', '}'),
      )
      .map(([before, json, after]) => before + json + after),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', ' ', '\ufeff', 'null', '"conversation"', '[]', '{}', '1', '{"feature":'),
  },
);

const randomRequest: fc.Arbitrary<RandomRequest> = fc.record({
  text: bodyText,
  bytes: fc.oneof(
    { weight: 8, arbitrary: fc.constant('utf8' as const) },
    { weight: 1, arbitrary: fc.constantFrom('latin1' as const, 'utf16le' as const, 'broken' as const) },
  ),
  padTo: fc.oneof(
    { weight: 8, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.integer({ min: LIMIT - 3, max: LIMIT + 3 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 4000 }) },
  ),
  contentType: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8') },
    {
      weight: 4,
      arbitrary: fc.constantFrom(
        undefined,
        'APPLICATION/JSON',
        'application/json;charset=utf-8',
        'application/json; charset=UTF-8',
        'application/json; charset="utf-8"',
        'application/json ; charset=utf-8',
        'application/json;  charset=utf-8',
        'application/json;\tcharset=utf-8',
        'application/json; charset=utf8',
        'application/json; charset=latin1',
        'application/json; charset=iso-8859-1',
        'application/json; charset=utf-16',
        'application/json; charset=utf-16le',
        'application/json; charset=bogus',
        'application/json;',
        'application/json; foo=bar',
        'application/json, text/plain',
        'application/jsonx',
        'application/vnd.api+json',
        'text/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        '',
      ),
    },
  ),
  contentEncoding: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('gzip' as const, 'identity' as const, 'br' as const) },
  ),
  auth: fc.oneof(
    { weight: 8, arbitrary: fc.constant('own key' as const) },
    { weight: 1, arbitrary: fc.constantFrom('unknown key' as const, 'none' as const, 'basic' as const) },
  ),
});

function bodyBytes(request: RandomRequest): Buffer {
  let bytes =
    request.bytes === 'broken'
      ? Buffer.concat([Buffer.from(request.text, 'utf8'), Buffer.from([0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80])])
      : Buffer.from(request.text, request.bytes);
  if (request.padTo !== null && request.padTo > bytes.length) {
    bytes = Buffer.concat([bytes, Buffer.alloc(request.padTo - bytes.length, 0x20)]);
  }
  if (request.contentEncoding === 'gzip') return gzipSync(bytes);
  if (request.contentEncoding === 'br') return Buffer.from('not brotli');
  return bytes;
}

interface Twin {
  id: string;
  apiKey: string;
}

/** What a client sees of one answer, with the twin's own user id taken out. */
async function send(twin: Twin, request: RandomRequest) {
  const headers: Record<string, string> = {};
  if (request.auth === 'own key') headers.authorization = `Bearer ${twin.apiKey}`;
  if (request.auth === 'unknown key') headers.authorization = 'Bearer ck_not_a_key_of_anyone';
  if (request.auth === 'basic') headers.authorization = 'Basic dXNlcjpwYXNz';
  if (request.contentType !== undefined) headers['content-type'] = request.contentType;
  if (request.contentEncoding !== undefined) headers['content-encoding'] = request.contentEncoding;
  const res = await fetch(`${app.url}/v1/usage`, { method: 'POST', headers, body: bodyBytes(request) });
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    replayed: res.headers.get('idempotent-replayed'),
    body: (await res.text()).replaceAll(twin.id, '<user id>'),
  };
}

/** The twin's ledger as amounts and kinds in order (ids and times differ between twins). */
async function ledgerOf(twin: Twin) {
  return app.sql<{ amount: number; kind: string }[]>`
    SELECT t.amount, t.kind FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.user_id = ${twin.id} ORDER BY t.id`;
}

async function twin(): Promise<Twin> {
  const { user, apiKey } = await fundedUser(app.sql, app.ledger, 1_000_000);
  return { id: user.id, apiKey };
}

test('when the same random requests go through the fast path and through Express, then every answer, charge and balance is the same', async () => {
  const servedBefore = fastPathSwitch.served;
  let sent = 0;
  await fc.assert(
    // A few requests per run, to twins of their own: replays and conflicts happen within a run,
    // and a failure shrinks to a short story that does not depend on earlier runs.
    fc.asyncProperty(fc.array(randomRequest, { minLength: 1, maxLength: 4 }), async (requests) => {
      const [fastTwin, expressTwin] = [await twin(), await twin()];
      for (const request of requests) {
        sent += 1;
        fastPathSwitch.enabled = true;
        const fast = await send(fastTwin, request);
        fastPathSwitch.enabled = false;
        const express = await send(expressTwin, request);
        fastPathSwitch.enabled = true;
        expect(fast).toEqual(express);
        expect(fast.status).toBeLessThan(500);
      }
      expect(await availableOf(api, fastTwin.apiKey)).toBe(await availableOf(api, expressTwin.apiKey));
      expect(await ledgerOf(fastTwin)).toEqual(await ledgerOf(expressTwin));
    }),
    { numRuns: 120 },
  );
  // The comparison means something only if the fast path served a good share of the requests.
  expect(fastPathSwitch.served - servedBefore).toBeGreaterThan(sent / 3);
});
