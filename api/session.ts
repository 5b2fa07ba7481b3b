import type { Request, Response } from 'express';
import type { Sql } from '../db/pool';
import { createSession, deleteSession, findSessionUser, SESSION_DAYS } from '../db/sessions';
import type { User } from '../db/users';

/**
 * Cookie sessions for browsers on the credits page. A browser signs in once with its API key;
 * the cookie then holds a random session token (only its hash is stored, db/sessions.ts). The
 * cookie is HttpOnly (no script reads it), SameSite=Lax (other sites' forms and fetches do not
 * carry it) and Secure when the request came over HTTPS (`trust proxy` decides behind a proxy).
 */
export const SESSION_COOKIE = 'credits_session';

/** base64url of 32 bytes: anything else in the cookie is ignored without a database look-up. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/** The session token the browser sent, if it has a well-formed one. */
export function sessionToken(req: Request): string | null {
  return cookieToken(req, SESSION_COOKIE);
}

/** A well-formed session token in the cookie `name` (the user's or the operator's session). */
export function cookieToken(req: Request, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return TOKEN_SHAPE.test(value) ? value : null;
    }
  }
  return null;
}

/** This API's own origin, as the caller reached it (Checkout sends the browser back here). */
export function ownOrigin(req: Request): string {
  return `${req.protocol}://${req.get('host')}`;
}

/** Methods that change nothing: another page may cause them without harm. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * True when a browser says this request was sent by a page of another origin. SameSite=Lax keeps
 * the cookie off other *sites'* requests, but a page on this host under another port is the same
 * site: its form posts and fetches carry the cookie. Every current browser names the sending page
 * in Origin on a cross-origin POST, and in Sec-Fetch-Site; a client that sends neither is not a
 * browser and carries no ambient cookie to abuse.
 */
export function crossOrigin(req: Request): boolean {
  const origin = req.get('origin');
  const site = req.get('sec-fetch-site');
  return (
    (origin !== undefined && origin !== ownOrigin(req)) ||
    (site !== undefined && site !== 'same-origin' && site !== 'none')
  );
}

/** A request that changes something, sent by another origin's page: the cookie must not count. */
export function crossOriginChange(req: Request): boolean {
  return !SAFE_METHODS.has(req.method) && crossOrigin(req);
}

/** The signed-in user of this browser; null without a session or when it expired or was ended. */
export async function sessionUser(sql: Sql, req: Request): Promise<User | null> {
  const token = sessionToken(req);
  return token ? findSessionUser(sql, token) : null;
}

function cookieOptions(req: Request) {
  return { httpOnly: true, sameSite: 'lax', path: '/', secure: req.secure } as const;
}

/** Opens a session for `user` and hands its token to the browser. */
export async function signIn(sql: Sql, req: Request, res: Response, user: User): Promise<void> {
  const { token } = await createSession(sql, user.id);
  res.cookie(SESSION_COOKIE, token, { ...cookieOptions(req), maxAge: SESSION_DAYS * 24 * 60 * 60 * 1000 });
}

/** Ends the browser's session on the server (the token stops working) and clears its cookie. */
export async function signOut(sql: Sql, req: Request, res: Response): Promise<void> {
  const token = sessionToken(req);
  if (token) await deleteSession(sql, token);
  res.clearCookie(SESSION_COOKIE, cookieOptions(req));
}
