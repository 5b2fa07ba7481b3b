import type { Request, Response } from 'express';
import {
  createOperatorSession,
  deleteOperatorSession,
  OPERATOR_SESSION_HOURS,
  operatorSessionOpen,
} from '../db/operator-sessions';
import type { Sql } from '../db/pool';
import { cookieToken } from './session';

/**
 * Cookie sessions for operators on /admin, with the credits page's rules (api/session.ts):
 * HttpOnly, SameSite=Lax, Secure over HTTPS, a random token whose hash alone is stored. The
 * cookie is scoped to /admin, so no other route ever receives it.
 */
export const OPERATOR_COOKIE = 'credits_operator_session';
const COOKIE_PATH = '/admin';

function cookieOptions(req: Request) {
  return { httpOnly: true, sameSite: 'lax', path: COOKIE_PATH, secure: req.secure } as const;
}

export async function operatorSignedIn(sql: Sql, req: Request): Promise<boolean> {
  const token = cookieToken(req, OPERATOR_COOKIE);
  return token !== null && (await operatorSessionOpen(sql, token));
}

export async function signInOperator(sql: Sql, req: Request, res: Response): Promise<void> {
  const token = await createOperatorSession(sql);
  res.cookie(OPERATOR_COOKIE, token, { ...cookieOptions(req), maxAge: OPERATOR_SESSION_HOURS * 3600 * 1000 });
}

export async function signOutOperator(sql: Sql, req: Request, res: Response): Promise<void> {
  const token = cookieToken(req, OPERATOR_COOKIE);
  if (token) await deleteOperatorSession(sql, token);
  res.clearCookie(OPERATOR_COOKIE, cookieOptions(req));
}
