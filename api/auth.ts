import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Sql } from '../db/pool';
import { findUserByApiKey, type User } from '../db/users';
import { Forbidden, Unauthorized } from '../domain';

function bearer(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  return match ? match[1]! : null;
}

export function currentUser(res: Response): User {
  const user = res.locals.user as User | undefined;
  if (!user) throw new Unauthorized('authentication required');
  return user;
}

/** Requires a user's API key (`Authorization: Bearer <key>`). */
export function requireUser(sql: Sql): RequestHandler {
  return async (req, res, next) => {
    const key = bearer(req.headers.authorization);
    if (!key) throw new Unauthorized('Authorization: send "Bearer <api key>"');
    const user = await findUserByApiKey(sql, key);
    if (!user) throw new Unauthorized('Authorization: unknown API key');
    res.locals.user = user;
    next();
  };
}

/** Looks the user up when a key is sent, for routes that also serve anonymous callers. */
export function optionalUser(sql: Sql): RequestHandler {
  return async (req, res, next) => {
    const key = bearer(req.headers.authorization);
    if (key) {
      const user = await findUserByApiKey(sql, key);
      if (!user) throw new Unauthorized('Authorization: unknown API key');
      res.locals.user = user;
    }
    next();
  };
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
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
