import { timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Sql } from '../db/pool';
import { findUserByApiKey, hashApiKey, type User } from '../db/users';
import { Forbidden, Unauthorized } from '../domain';
import { crossOriginChange, sessionToken, sessionUser } from './session';

export function bearer(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

export function currentUser(res: Response): User {
  const user = res.locals.user as User | undefined;
  if (!user) throw new Unauthorized('authentication required');
  return user;
}

/** How long a key's user is reused before it is read again (another API instance's change shows by then). */
const USER_TTL_MS = 5000;
const MAX_CACHED_KEYS = 10_000;

/**
 * Recently seen API keys and their users, so a busy client costs no Postgres round trip per
 * request for authentication (the usage hot path: one query less per charge). Keyed by the key's
 * hash; a lookup in flight is shared; unknown keys are never cached, so a new key works at once.
 * A change to the user (PUT /v1/settings) calls forgetCachedUser in this process; other
 * processes see it within USER_TTL_MS. Keys are never revoked today; a revocation must forget too.
 */
class UserCache {
  private byKey = new Map<string, { user: Promise<User | null>; until: number; userId?: string }>();

  lookup(sql: Sql, apiKey: string): Promise<User | null> {
    const hash = hashApiKey(apiKey);
    const now = Date.now();
    const hit = this.byKey.get(hash);
    if (hit && hit.until > now) return hit.user;
    if (this.byKey.size >= MAX_CACHED_KEYS) this.byKey.delete(this.byKey.keys().next().value!);
    const entry: { user: Promise<User | null>; until: number; userId?: string } = {
      until: now + USER_TTL_MS,
      user: findUserByApiKey(sql, apiKey).then(
        (user) => {
          if (user) entry.userId = user.id;
          else if (this.byKey.get(hash) === entry) this.byKey.delete(hash);
          return user;
        },
        (error: unknown) => {
          if (this.byKey.get(hash) === entry) this.byKey.delete(hash);
          throw error;
        },
      ),
    };
    this.byKey.delete(hash); // re-inserted last: the Map's order is the eviction order
    this.byKey.set(hash, entry);
    return entry.user;
  }

  /** Drops the user's entries, and any lookup in flight (it may have read the row before the change). */
  forget(userId: string): void {
    for (const [hash, entry] of this.byKey) {
      if (entry.userId === userId || entry.userId === undefined) this.byKey.delete(hash);
    }
  }
}

const caches = new WeakMap<Sql, UserCache>();
function cacheFor(sql: Sql): UserCache {
  let cache = caches.get(sql);
  if (!cache) {
    cache = new UserCache();
    caches.set(sql, cache);
  }
  return cache;
}

/** The user of a bearer API key (through the cache); Unauthorized for an unknown key. */
export async function userForApiKey(sql: Sql, apiKey: string): Promise<User> {
  const user = await cacheFor(sql).lookup(sql, apiKey);
  if (!user) throw new Unauthorized('Authorization: unknown API key');
  return user;
}

/** Call after changing a user's row, so this process stops serving the old one at once. */
export function forgetCachedUser(sql: Sql, userId: string): void {
  caches.get(sql)?.forget(userId);
}

/**
 * The caller: a bearer API key when one is sent (an unknown key is 401, whatever else is sent),
 * else the credits page's session cookie (api/session.ts); null when neither names a user.
 */
async function authenticate(sql: Sql, req: Request): Promise<User | null> {
  const key = bearer(req.headers.authorization);
  return key ? userForApiKey(sql, key) : sessionUser(sql, req);
}

/**
 * Requires a user: an API key (`Authorization: Bearer <key>`) or a signed-in browser's session.
 * A session changes things (POST, PUT, …) only from this API's own origin: another origin's page
 * (a same-site one on another port too) gets 403 whatever cookie its request carries.
 */
export function requireUser(sql: Sql): RequestHandler {
  return async (req, res, next) => {
    if (!bearer(req.headers.authorization) && sessionToken(req) && crossOriginChange(req)) {
      throw new Forbidden(
        'Origin: a signed-in browser may change things only from this site; other clients send "Bearer <api key>"',
      );
    }
    const user = await authenticate(sql, req);
    if (!user) {
      throw new Unauthorized(
        sessionToken(req)
          ? 'session: expired or signed out; sign in again at /usercredits'
          : 'Authorization: send "Bearer <api key>"',
      );
    }
    res.locals.user = user;
    next();
  };
}

/**
 * Looks the user up when a key or session is sent, for routes that also serve anonymous callers.
 * A stale session cookie counts as anonymous (the credits page then offers to sign in again).
 */
export function optionalUser(sql: Sql): RequestHandler {
  return async (req, res, next) => {
    const user = await authenticate(sql, req);
    if (user) res.locals.user = user;
    next();
  };
}

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * /metrics when METRICS_TOKEN is set: `Bearer <token>` or 401 (the series name routes, statuses
 * and ledger volumes, which are not for strangers). Unset, /metrics stays open as before.
 */
export function requireMetricsToken(token: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (token === undefined) return next();
    const key = bearer(req.headers.authorization);
    if (!key || !sameSecret(key, token))
      throw new Unauthorized('Authorization: send "Bearer <metrics token>"');
    next();
  };
}

/** Operator routes: `Bearer $ADMIN_API_KEY`. A valid user key is authenticated but not allowed (403). */
export function requireOperator(sql: Sql, adminApiKey: string | undefined): RequestHandler {
  return async (req, _res, next) => {
    const key = bearer(req.headers.authorization);
    if (!key) throw new Unauthorized('Authorization: send "Bearer <operator key>"');
    if (adminApiKey && sameSecret(key, adminApiKey)) return next();
    if (await findUserByApiKey(sql, key)) throw new Forbidden('operator routes need the operator key');
    if (!adminApiKey) throw new Forbidden('operator routes are disabled: ADMIN_API_KEY is not set');
    throw new Unauthorized('Authorization: unknown key');
  };
}
