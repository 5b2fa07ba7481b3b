import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Router } from 'express';
import type { Browser } from 'playwright-core';
import { z } from 'zod';
import { createApp } from '../../api/app';
import { buildDocument, type Json, type OpenApiDocument, openApiPath } from '../../api/openapi/document';
import { servedRoutes } from '../../api/openapi/enumerate';
import { usageBody } from '../../api/schemas';
import { ADMIN_KEY, http, startTestApp, type TestApp } from '../support/app';
import { launchBrowser } from '../support/browser';
import { checkAnswer } from '../support/openapi-validator';

/**
 * DESIGN.md §9, issue 17: GET /openapi.json documents every route the app serves, from the same
 * zod schemas the routes validate with; GET /docs is its reference page, served from an npm
 * package with nothing fetched from elsewhere. Every API test's answers are also checked against
 * the document (test/support/openapi-validator.ts).
 */
let app: TestApp;
let api: ReturnType<typeof http>;
let document: OpenApiDocument;

beforeAll(async () => {
  app = await startTestApp();
  api = http(app.url);
  const res = await api.get<OpenApiDocument>('/openapi.json');
  expect(res.status).toBe(200);
  document = res.body;
});
afterAll(() => app.close());

type Operation = { operationId: string; tags: string[]; security?: Json[]; parameters?: Json[] } & Json;

function operations(): { method: string; path: string; op: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method, path, op: op as Operation })),
  );
}

function op(method: string, path: string): Operation {
  const found = document.paths[path]?.[method];
  if (!found) throw new Error(`${method} ${path} is not in the document`);
  return found as Operation;
}

describe('the document', () => {
  test('is OpenAPI 3.1, served as built, with the error shape as a shared component', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document).toEqual(JSON.parse(JSON.stringify(buildDocument())));
    expect(document.components.schemas.Error).toMatchObject({
      required: ['error'],
      properties: { error: { required: ['code', 'message'] } },
    });
  });

  test('lists every route the app serves, and no route it does not serve', () => {
    const express = createApp(app.root.apiDeps({ adminApiKey: ADMIN_KEY, log: () => {} }));
    const served = servedRoutes(express).map((r) => `${r.method.toUpperCase()} ${openApiPath(r.path)}`);
    const documented = operations().map((o) => `${o.method.toUpperCase()} ${o.path}`);
    expect(served.length).toBeGreaterThan(50);
    expect(new Set(served).size).toBe(served.length);
    const missing = served.filter((r) => !documented.includes(r));
    const extra = documented.filter((r) => !served.includes(r));
    expect({ servedButNotDocumented: missing, documentedButNotServed: extra }).toEqual({
      servedButNotDocumented: [],
      documentedButNotServed: [],
    });
  });

  test('the route list is read through nested routers and mount paths', () => {
    const express = createApp(app.root.apiDeps({ adminApiKey: ADMIN_KEY, log: () => {} }));
    const outer = Router();
    const inner = Router();
    inner.get('/leaf/:id', () => {});
    outer.use('/inner', inner);
    express.use('/mounted', outer);
    expect(servedRoutes(express)).toContainEqual({ method: 'get', path: '/mounted/inner/leaf/:id' });
  });

  test('every schema in it is a valid JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1)', () => {
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    const schemas: unknown[] = Object.values(document.components.schemas);
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (typeof value === 'object' && value !== null) {
        for (const [key, inner] of Object.entries(value)) {
          if (key === 'schema') schemas.push(inner);
          else collect(inner);
        }
      }
    };
    collect(document.paths);
    expect(schemas.length).toBeGreaterThan(100);
    for (const schema of schemas) expect(ajv.validateSchema(schema as Json)).toBe(true);
  });

  test('request schemas come from the zod schemas the routes validate with', () => {
    const body = op('post', '/v1/usage').requestBody as Json;
    const generated = z.toJSONSchema(usageBody, { io: 'input', unrepresentable: 'any' }) as Json;
    delete generated.$schema;
    expect((body.content as Record<string, Json>)['application/json']!.schema).toEqual(generated);
    expect(op('get', '/v1/transactions').parameters).toEqual([
      expect.objectContaining({ name: 'limit', in: 'query', required: false }),
      expect.objectContaining({ name: 'cursor', in: 'query', required: false }),
    ]);
    expect(op('get', '/v1/agents/{id}').parameters).toEqual([
      expect.objectContaining({
        name: 'id',
        in: 'path',
        required: true,
        schema: expect.objectContaining({ format: 'uuid' }),
      }),
    ]);
  });

  test('each route says who may call it', () => {
    const schemes = Object.keys(document.components.securitySchemes).sort();
    expect(schemes).toEqual([
      'executorCallback',
      'metricsToken',
      'operatorKey',
      'operatorSession',
      'session',
      'stripeSignature',
      'userKey',
    ]);
    expect(op('get', '/v1/balance').security).toEqual([{ userKey: [] }, { session: [] }]);
    expect(op('post', '/v1/webhooks/stripe').security).toEqual([{ stripeSignature: [] }]);
    expect(op('post', '/v1/users').security).toBeUndefined();
    for (const { path, method, op: operation } of operations()) {
      if (path.startsWith('/v1/admin/')) {
        expect([method, path, operation.tags]).toEqual([method, path, ['operator']]);
        expect(operation.security).toEqual([{ operatorKey: [] }]);
        expect(Object.keys(operation.responses as Json)).toEqual(expect.arrayContaining(['401', '403']));
      }
      if (path === '/admin' || path.startsWith('/admin/')) expect(operation.tags).toContain('operator');
    }
  });

  test('money-moving POSTs take an Idempotency-Key; errors share one shape; 402/409/503 where they apply', () => {
    const moneyMoving = [
      '/v1/purchases',
      '/v1/projects',
      '/v1/withdrawals',
      '/v1/admin/grants',
      '/v1/admin/refunds',
      '/v1/admin/packages',
    ];
    for (const path of moneyMoving) {
      const names = (op('post', path).parameters ?? []).map((p) => `${p.in}:${p.name}`);
      expect([path, names]).toEqual([path, expect.arrayContaining(['header:Idempotency-Key'])]);
    }
    expect(Object.keys(op('post', '/v1/usage').responses as Json)).toEqual(
      expect.arrayContaining(['200', '201', '400', '401', '402', '409', '503']),
    );
    expect(Object.keys(op('post', '/v1/withdrawals').responses as Json)).toEqual(
      expect.arrayContaining(['402', '409']),
    );
    for (const { op: operation } of operations()) {
      const responses = operation.responses as Record<string, Json>;
      expect(responses['503']).toBeDefined();
      for (const [status, response] of Object.entries(responses)) {
        const json = (response.content as Record<string, Json> | undefined)?.['application/json'];
        if (Number(status) >= 400 && json && operation.operationId !== 'getHealthz') {
          expect([operation.operationId, status, json.schema]).toEqual([
            operation.operationId,
            status,
            { $ref: '#/components/schemas/Error' },
          ]);
        }
      }
    }
  });

  test('the HTML pages and their form posts are documented as text/html', () => {
    const page = (method: string, path: string, status: string) =>
      Object.keys(((op(method, path).responses as Record<string, Json>)[status]!.content ?? {}) as Json);
    expect(page('get', '/usercredits', '200')).toEqual(['text/html']);
    expect(page('get', '/signup', '200')).toEqual(['text/html']);
    expect(page('get', '/admin', '200')).toEqual(['text/html']);
    expect(page('post', '/signup', '201')).toEqual(['text/html']);
    expect(Object.keys(((op('post', '/usercredits/buy').requestBody as Json).content ?? {}) as Json)).toEqual(
      ['application/x-www-form-urlencoded'],
    );
  });
});

describe('the answers are checked against the document', () => {
  test('a body that does not match, or a status it does not list, fails loudly', () => {
    const good = {
      available: 1,
      posted: 1,
      held: 0,
      buckets: {
        purchased: { available: 1, posted: 1, held: 0, withdrawable: 0 },
        earned: { available: 0, posted: 0, held: 0, withdrawable: 0 },
      },
    };
    const answer = { method: 'GET', path: '/v1/balance', status: 200, contentType: 'application/json' };
    expect(() => checkAnswer({ ...answer, body: good })).not.toThrow();
    expect(() => checkAnswer({ ...answer, body: { ...good, available: '1' } })).toThrow(
      /body\/available must be integer/,
    );
    expect(() => checkAnswer({ ...answer, status: 418, body: good })).toThrow(
      /answered 418, which the document does not list/,
    );
    expect(() => checkAnswer({ ...answer, contentType: 'text/html', body: '<p>' })).toThrow(/as text\/html/);
    expect(() => checkAnswer({ ...answer, status: 401, body: { error: { code: 'unauthorized' } } })).toThrow(
      /must have required property 'message'/,
    );
  });

  test('strict mode also refuses fields the document does not list', () => {
    const previous = process.env.OPENAPI_VALIDATE;
    process.env.OPENAPI_VALIDATE = 'strict';
    try {
      const body = { error: { code: 'x', message: 'y', extra: 1 } };
      expect(() =>
        checkAnswer({
          method: 'GET',
          path: '/v1/balance',
          status: 401,
          contentType: 'application/json',
          body,
        }),
      ).toThrow(/must NOT have additional properties/);
    } finally {
      if (previous === undefined) delete process.env.OPENAPI_VALIDATE;
      else process.env.OPENAPI_VALIDATE = previous;
    }
  });
});

describe('GET /docs', () => {
  test('references only this origin’s assets, each served from the npm package', async () => {
    const res = await fetch(`${app.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toMatch(/https?:|\*/);
    const html = await res.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const ref of refs) expect(ref).toMatch(/^\/(?!\/)/);
    expect(html).not.toMatch(/https?:\/\//);
    for (const ref of refs.filter((r) => r.startsWith('/docs/assets/'))) {
      const asset = await fetch(`${app.url}${ref}`);
      expect([ref, asset.status]).toEqual([ref, 200]);
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
    const bundle = await fetch(`${app.url}/docs/assets/swagger-ui-bundle.js`);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    const init = await (await fetch(`${app.url}/docs/assets/init.js`)).text();
    expect(init).toContain("url: '/openapi.json'");
    expect(init).toContain('validatorUrl: null');
  });

  test('serves nothing else from the package', async () => {
    for (const name of ['index.html', 'package.json', 'swagger-initializer.js', '..%2Fpackage.json']) {
      const res = await api.get(`/docs/assets/${name}`);
      expect([name, res.status]).toEqual([name, 404]);
    }
  });

  describe('in headless Chromium', () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchBrowser();
    });
    afterAll(() => browser?.close());

    test('renders every operation with nothing fetched from another origin', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const origin = new URL(app.url).origin;
      const requested: string[] = [];
      const problems: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`${app.url}/docs`);
      await page.locator('.opblock').first().waitFor({ timeout: 20_000 });
      const shown = await page.locator('.opblock').count();
      // Swagger UI lists an operation under each of its tags (an operator page is under both).
      expect(shown).toBe(operations().reduce((n, o) => n + o.op.tags.length, 0));
      await expect(
        page.locator('.opblock-summary-path', { hasText: '/v1/usage/summary' }).count(),
      ).resolves.toBe(1);
      const foreign = requested.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('data:'));
      expect(foreign).toEqual([]);
      expect(requested).toContain(`${origin}/openapi.json`);
      expect(problems).toEqual([]);
      await page.screenshot({ path: path.join(__dirname, '../../test-artifacts/api-reference.png') });
      await context.close();
    });
  });
});
