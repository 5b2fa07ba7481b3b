/**
 * Checks the API's answers against its OpenAPI document (GET /openapi.json): the tests' `http`
 * client (test/support/app.ts) calls checkAnswer for every response. A documented route must
 * answer a status the document lists, with a media type listed for that status, and a JSON body
 * that matches the schema (ajv, JSON Schema draft 2020-12: OpenAPI 3.1's dialect). A mismatch
 * throws, failing the test that made the request, with what differed.
 *
 * OPENAPI_VALIDATE: unset or `on` checks; `off` (or `0`) does not; `strict` also refuses fields
 * an answer has that the document does not list (the document allows extra fields, DESIGN.md §9;
 * strict is how to find what it is missing).
 */
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { type Json, type OpenApiDocument, openApiDocument } from '../../api/openapi/document';

type Mode = 'off' | 'on' | 'strict';

function mode(): Mode {
  const value = (process.env.OPENAPI_VALIDATE ?? 'on').toLowerCase();
  if (value === 'off' || value === '0' || value === 'false') return 'off';
  return value === 'strict' ? 'strict' : 'on';
}

const DOC_ID = 'openapi.json';

interface Operation {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
  responses: Record<string, Json>;
}

interface Checker {
  operations: Operation[];
  ajv: Ajv2020;
  compiled: Map<string, ValidateFunction>;
}

const checkers = new Map<Mode, Checker>();

/** Strict: every object that lists its properties refuses others (records keep their value schema). */
function closeObjects(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(closeObjects);
  if (typeof value !== 'object' || value === null) return value;
  const result: Json = {};
  for (const [key, inner] of Object.entries(value)) result[key] = closeObjects(inner);
  const open = result.additionalProperties;
  const isEmpty = typeof open === 'object' && open !== null && Object.keys(open).length === 0;
  if (result.properties && (open === undefined || open === true || isEmpty))
    result.additionalProperties = false;
  return result;
}

/** `#/components/...` inside the document, as seen from a schema compiled on its own. */
function pointIntoDocument(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pointIntoDocument);
  if (typeof value !== 'object' || value === null) return value;
  const result: Json = {};
  for (const [key, inner] of Object.entries(value)) {
    result[key] =
      key === '$ref' && typeof inner === 'string' && inner.startsWith('#/')
        ? `${DOC_ID}${inner}`
        : pointIntoDocument(inner);
  }
  return result;
}

function checkerFor(current: Exclude<Mode, 'off'>): Checker {
  const existing = checkers.get(current);
  if (existing) return existing;
  const source = openApiDocument();
  const document = (current === 'strict' ? closeObjects(source) : source) as OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: DOC_ID, components: document.components }, DOC_ID);
  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(document.paths)) {
    const source = template
      .split(/(\{[^}]+\})/)
      .map((part) => (part.startsWith('{') ? '([^/]+)' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
      .join('');
    for (const [method, operation] of Object.entries(methods)) {
      operations.push({
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${source}$`),
        params: (template.match(/\{/g) ?? []).length,
        responses: (operation.responses ?? {}) as Record<string, Json>,
      });
    }
  }
  // A literal path wins over a template that would also match it.
  operations.sort((a, b) => a.params - b.params);
  const checker = { operations, ajv, compiled: new Map<string, ValidateFunction>() };
  checkers.set(current, checker);
  return checker;
}

function mediaType(contentType: string | null): string | null {
  return contentType ? contentType.split(';')[0]!.trim().toLowerCase() : null;
}

/**
 * Throws when a documented route's answer is not what the document says. `path` may carry a
 * query string; routes the document does not have (the catch-all 404) are not checked here:
 * test/api/openapi.test.ts holds the document and the app's routes to the same list.
 */
export function checkAnswer(answer: {
  method: string;
  path: string;
  status: number;
  contentType: string | null;
  body: unknown;
}): void {
  const current = mode();
  if (current === 'off') return;
  const checker = checkerFor(current);
  const method = answer.method.toUpperCase();
  const pathname = answer.path.split('?')[0]!;
  const operation = checker.operations.find((o) => o.method === method && o.pattern.test(pathname));
  if (!operation) return;
  const where = `${method} ${operation.template} (${answer.path})`;
  const response = operation.responses[String(answer.status)];
  if (!response) {
    throw new Error(
      `OpenAPI: ${where} answered ${answer.status}, which the document does not list (it lists ${Object.keys(operation.responses).join(', ')}); body: ${preview(answer.body)}`,
    );
  }
  const type = mediaType(answer.contentType);
  const content = response.content as Record<string, Json> | undefined;
  if (!type || answer.status === 204 || (answer.status >= 300 && answer.status < 400)) return;
  if (!content?.[type]) {
    throw new Error(
      `OpenAPI: ${where} answered ${answer.status} as ${type}; the document lists ${content ? Object.keys(content).join(', ') : 'no body'} for it`,
    );
  }
  if (type !== 'application/json') return;
  const key = `${method} ${operation.template} ${answer.status}`;
  let validate = checker.compiled.get(key);
  if (!validate) {
    validate = checker.ajv.compile(pointIntoDocument(content[type]!.schema) as Json);
    checker.compiled.set(key, validate);
  }
  if (!validate(answer.body)) {
    const errors = checker.ajv.errorsText(validate.errors, { dataVar: 'body', separator: '\n  ' });
    throw new Error(
      `OpenAPI (${current}): ${where} answered ${answer.status} with a body the document does not describe:\n  ${errors}\nbody: ${preview(answer.body)}`,
    );
  }
}

function preview(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > 600 ? `${text.slice(0, 600)}…` : text;
}
