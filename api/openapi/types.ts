import type { z } from 'zod';

/**
 * Who may call a route:
 * - `user`: a user's API key (`Authorization: Bearer <key>`) or the credits page's session cookie;
 * - `optionalUser`: the same, or anonymous (the answer then shows less);
 * - `operator`: `Authorization: Bearer $ADMIN_API_KEY` (a user's key gets 403);
 * - `page`: the credits page's session cookie, optional (forms answer a sign-in page without one);
 * - `operatorPage`: the operator page's session cookie (the sign-in form without one);
 * - `stripe`: the `Stripe-Signature` header over the raw body;
 * - `metrics`: `Bearer $METRICS_TOKEN` when that is set, else open;
 * - `executor`: the per-task callback token an agent runtime was sent with the task;
 * - `none`: anyone.
 */
export type Auth =
  | 'none'
  | 'user'
  | 'optionalUser'
  | 'operator'
  | 'page'
  | 'operatorPage'
  | 'stripe'
  | 'metrics'
  | 'executor';

export type Method = 'get' | 'post' | 'put' | 'delete';

/** One answer of a route: its body's media type and schema, or a redirect. */
export type ResponseDoc =
  | { kind: 'json'; description: string; schema: z.ZodType; headers?: Record<string, string> }
  | { kind: 'html'; description: string; headers?: Record<string, string> }
  | { kind: 'text'; description: string; contentType: string }
  | { kind: 'redirect'; description: string };

/** A route as the document describes it; api/openapi/document.ts turns these into OpenAPI. */
export interface RouteDoc {
  method: Method;
  /** Express's path, `:name` for parameters (the document writes `{name}`). */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  auth: Auth;
  /** The route's own zod schemas, as it validates with them. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** A JSON body. */
  body?: z.ZodType;
  /** An `application/x-www-form-urlencoded` body (the pages' forms). */
  form?: z.ZodObject;
  /** The route reads an optional `Idempotency-Key` header (money-moving POSTs). */
  idempotencyKey?: boolean;
  /**
   * The answers. The builder adds the common errors (400 when there is input, 401/403 by auth,
   * 413 for JSON bodies, 415 for API requests that may carry one, 503 everywhere) unless the
   * route lists that status itself.
   */
  responses: Record<number, ResponseDoc>;
}
