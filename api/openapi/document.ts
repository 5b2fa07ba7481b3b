/**
 * The OpenAPI 3.1 document (GET /openapi.json), built from api/openapi/routes.ts: request
 * schemas are the routes' own zod schemas through zod 4's JSON Schema output (draft 2020-12, the
 * dialect of OpenAPI 3.1); answers are api/openapi/components.ts's.
 */
import { z } from 'zod';
import { RETRY_AFTER_SECONDS } from '../errors';
import { OPERATOR_COOKIE } from '../operator-session';
import { SESSION_COOKIE } from '../session';
import { ErrorBody } from './components';
import { ROUTES } from './routes';
import type { Auth, ResponseDoc, RouteDoc } from './types';

/** A JSON Schema or an OpenAPI object, as plain JSON. */
export type Json = { [key: string]: unknown };

export interface OpenApiDocument extends Json {
  openapi: string;
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> } & Json;
}

const COMPONENTS = '#/components/schemas/';

/** `/v1/agents/:id` → `/v1/agents/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * Converts one zod schema: `input` for what clients send (before transforms and defaults),
 * `output` for what the API answers. Schemas with an `id` (components.ts) are moved into
 * `schemas` and referenced from here; refinements that JSON Schema cannot say (a UUID's case, a
 * day's range) are left to the route, which still answers 400 for them.
 */
function convert(schema: z.ZodType, io: 'input' | 'output', schemas: Record<string, Json>): Json {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    reused: 'inline',
  }) as Json;
  const defs = (out.$defs ?? {}) as Record<string, Json>;
  delete out.$schema;
  delete out.$defs;
  for (const [id, def] of Object.entries(defs)) schemas[id] = rewriteRefs(def) as Json;
  return rewriteRefs(out) as Json;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (typeof value !== 'object' || value === null) return value;
  const result: Json = {};
  for (const [key, inner] of Object.entries(value)) {
    result[key] =
      key === '$ref' && typeof inner === 'string'
        ? inner.replace(/^#\/\$defs\//, COMPONENTS)
        : rewriteRefs(inner);
  }
  return result;
}

const SECURITY_SCHEMES: Record<string, Json> = {
  userKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'A user’s API key (POST /v1/users answers it once): `Authorization: Bearer <key>`.',
  },
  operatorKey: {
    type: 'http',
    scheme: 'bearer',
    description:
      'The operator key, ADMIN_API_KEY: `Authorization: Bearer $ADMIN_API_KEY`. A user’s key gets 403.',
  },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description:
      'The credits page’s session (POST /usercredits/session). A session changes things only from this site’s own pages.',
  },
  operatorSession: {
    type: 'apiKey',
    in: 'cookie',
    name: OPERATOR_COOKIE,
    description: 'The operator page’s session (POST /admin/session with the operator key).',
  },
  stripeSignature: {
    type: 'apiKey',
    in: 'header',
    name: 'Stripe-Signature',
    description: 'Stripe’s signature of the raw body with the webhook secret (STRIPE_WEBHOOK_SECRET).',
  },
  metricsToken: {
    type: 'http',
    scheme: 'bearer',
    description: 'METRICS_TOKEN, when it is set; without it /metrics is open.',
  },
  executorCallback: {
    type: 'http',
    scheme: 'bearer',
    description:
      'The per-task callback token the worker sent the agent runtime with the task (`callback.token`); it is good for that task attempt only.',
  },
};

/** OpenAPI security requirements: any one of the listed objects; `{}` means anonymous is allowed. */
const SECURITY: Record<Auth, Json[] | undefined> = {
  none: undefined,
  user: [{ userKey: [] }, { session: [] }],
  optionalUser: [{ userKey: [] }, { session: [] }, {}],
  page: [{ session: [] }, { userKey: [] }, {}],
  operator: [{ operatorKey: [] }],
  operatorPage: [{ operatorSession: [] }, {}],
  stripe: [{ stripeSignature: [] }],
  metrics: [{ metricsToken: [] }, {}],
  executor: [{ executorCallback: [] }],
};

const TAGS = [
  { name: 'user', description: 'Accounts, balance, ledger, settings, referrals' },
  { name: 'usage', description: 'Metering, estimates and the rate card' },
  { name: 'purchases', description: 'Buying credits (Stripe Checkout) and Stripe’s webhook' },
  { name: 'projects', description: 'MultiTask projects' },
  { name: 'agents', description: 'Agents, ratings, creator earnings and withdrawals' },
  {
    name: 'operator',
    description: 'Operator routes: `Bearer $ADMIN_API_KEY`, or the operator page’s session',
  },
  { name: 'pages', description: 'Server-rendered HTML pages and their form posts' },
  { name: 'service', description: 'Health, metrics and this reference' },
  {
    name: 'executor',
    description: 'The agent runtime’s reports on the tasks it runs (README "Agent runtime")',
  },
];

const ERROR_REF = { $ref: `${COMPONENTS}Error` };
const jsonError = { 'application/json': { schema: ERROR_REF } };

function header(description: string): Json {
  return { description, schema: { type: 'string' } };
}

function isPage(route: RouteDoc): boolean {
  return Object.values(route.responses).some((r) => r.kind === 'html' || r.kind === 'redirect');
}

/** The errors every route of its kind can answer, unless it describes that status itself. */
function commonErrors(route: RouteDoc): Record<number, string> {
  const errors: Record<number, string> = {};
  const page = isPage(route);
  const hasInput = Boolean(route.params || route.query || route.body || route.idempotencyKey);
  if (hasInput && !page) errors[400] = 'validation_error: `message` names the field or header';
  if (route.body && !page) errors[413] = 'payload_too_large: the body is over its limit';
  // api/json-body.ts: any API request that carries a body the JSON parser did not read.
  if (
    !page &&
    route.method !== 'get' &&
    route.path.startsWith('/v1/') &&
    !route.path.startsWith('/v1/webhooks/')
  )
    errors[415] =
      'unsupported_media_type: a body that is not JSON (application/json), or in a charset or encoding the parser does not read';
  if (route.auth === 'user' || route.auth === 'operator' || route.auth === 'metrics')
    errors[401] = 'unauthorized: no key, or an unknown one';
  if (route.auth === 'optionalUser' || route.auth === 'page')
    errors[401] = 'unauthorized: an unknown API key';
  if (route.auth === 'operator') errors[403] = 'forbidden: a user’s key, or ADMIN_API_KEY is not set';
  if (route.auth === 'executor') {
    errors[401] = 'unauthorized: no callback token, or not this task attempt’s';
    errors[403] = 'forbidden: executor callbacks are disabled (EXECUTOR_CALLBACK_SECRET is not set)';
  }
  if (route.auth === 'user' && route.method !== 'get')
    errors[403] = 'forbidden: a session cookie sent from another site';
  errors[503] = `unavailable: Postgres or Temporal did not answer; retry after Retry-After (${RETRY_AFTER_SECONDS} s)`;
  return errors;
}

function response(doc: ResponseDoc, schemas: Record<string, Json>): Json {
  const headers: Json = {};
  if (doc.kind === 'json' || doc.kind === 'html') {
    for (const [name, text] of Object.entries(doc.headers ?? {})) headers[name] = header(text);
  }
  if (doc.kind === 'redirect') headers.Location = header('where the browser goes next');
  let content: Json | undefined;
  if (doc.kind === 'json')
    content = { 'application/json': { schema: convert(doc.schema, 'output', schemas) } };
  if (doc.kind === 'html') content = { 'text/html': { schema: { type: 'string' } } };
  if (doc.kind === 'text') content = { [doc.contentType]: { schema: { type: 'string' } } };
  return {
    description: doc.description,
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(content ? { content } : {}),
  };
}

/** The parameters of one zod object (path or query), each with its own schema. */
function parameters(where: 'path' | 'query', schema: z.ZodObject, schemas: Record<string, Json>): Json[] {
  return Object.entries(schema.shape).map(([name, field]) => {
    const fieldSchema = field as z.ZodType;
    const converted = convert(fieldSchema, 'input', schemas);
    const required = where === 'path' || !fieldSchema.safeParse(undefined).success;
    const description = converted.description;
    delete converted.description;
    return {
      name,
      in: where,
      required,
      schema: converted,
      ...(typeof description === 'string' ? { description } : {}),
    };
  });
}

function operation(route: RouteDoc, schemas: Record<string, Json>): Json {
  const params: Json[] = [];
  if (route.params) params.push(...parameters('path', route.params, schemas));
  if (route.query) params.push(...parameters('query', route.query, schemas));
  if (route.idempotencyKey) {
    params.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        'Retries with the same key answer the first result (200, `Idempotent-Replayed: true`) and move nothing twice; the same key with another body is a 409.',
      schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,200}$' },
    });
  }
  let requestBody: Json | undefined;
  if (route.body) {
    requestBody = {
      required: !route.body.safeParse({}).success,
      content: { 'application/json': { schema: convert(route.body, 'input', schemas) } },
    };
  } else if (route.form) {
    requestBody = {
      required: true,
      content: { 'application/x-www-form-urlencoded': { schema: convert(route.form, 'input', schemas) } },
    };
  }
  const responses: Record<string, Json> = {};
  for (const [status, doc] of Object.entries(route.responses)) responses[status] = response(doc, schemas);
  for (const [status, description] of Object.entries(commonErrors(route))) {
    const existing = responses[status];
    if (!existing) {
      responses[status] = {
        description,
        ...(status === '503' ? { headers: { 'Retry-After': header('seconds') } } : {}),
        content: jsonError,
      };
    } else if (!(existing.content as Json | undefined)?.['application/json']) {
      // A page's own answer is HTML; an error thrown before the page (an unknown key) is JSON.
      existing.content = { ...(existing.content as Json | undefined), ...jsonError };
    }
  }
  const security = SECURITY[route.auth];
  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: route.tags,
    ...(security ? { security } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

/** `post /v1/agents/:id/ratings` → `postV1AgentsIdRatings`. */
function operationId(route: RouteDoc): string {
  const words = route.path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return route.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

export function buildDocument(routes: RouteDoc[] = ROUTES): OpenApiDocument {
  const schemas: Record<string, Json> = {};
  convert(ErrorBody, 'output', schemas);
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    paths[path] ??= {};
    paths[path][route.method] = operation(route, schemas);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Credits & billing API',
      version: '1',
      description: [
        'Credit-based billing for an AI agent platform. JSON over HTTP; errors are `{"error": {"code", "message"}}` with the status that fits (400 validation, 401, 403, 404, 402 insufficient credits, 409 conflict, 503 with Retry-After when a dependency is down).',
        'Money-moving POSTs accept an `Idempotency-Key` header (usage events are idempotent by their `eventId`). Objects in answers may gain fields: ignore the ones you do not know.',
      ].join('\n\n'),
    },
    tags: TAGS,
    paths,
    components: { schemas, securitySchemes: SECURITY_SCHEMES },
  };
}

let cached: OpenApiDocument | undefined;

/** The document, built once per process. */
export function openApiDocument(): OpenApiDocument {
  cached ??= buildDocument();
  return cached;
}
