import { randomBytes } from 'node:crypto';
import type { Sql } from './pool';
import { findUserById, hashApiKey, type User } from './users';

/** How long a browser stays signed in to the credits page. */
export const SESSION_DAYS = 30;

/** Tokens are 32 random bytes, like API keys, so the same plain SHA-256 is a safe lookup hash. */
const hashToken = hashApiKey;

/**
 * Opens a session for the user and returns its token (shown once, to be set as a cookie).
 * The user's expired sessions are dropped on the way, so the table does not grow without bound.
 */
export async function createSession(sql: Sql, userId: string): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  await sql`DELETE FROM browser_sessions WHERE user_id = ${userId} AND expires_at <= now()`;
  const [row] = await sql<{ expires_at: Date }[]>`
    INSERT INTO browser_sessions (token_hash, user_id, expires_at)
    VALUES (${hashToken(token)}, ${userId}, now() + make_interval(days => ${SESSION_DAYS}))
    RETURNING expires_at`;
  return { token, expiresAt: row!.expires_at };
}

/** The user of an open session; null for an unknown or expired token. */
export async function findSessionUser(sql: Sql, token: string): Promise<User | null> {
  const [row] = await sql<{ user_id: string }[]>`
    SELECT user_id FROM browser_sessions WHERE token_hash = ${hashToken(token)} AND expires_at > now()`;
  return row ? findUserById(sql, row.user_id) : null;
}

/** Signing out: the token stops working at once, whatever the browser keeps. */
export async function deleteSession(sql: Sql, token: string): Promise<void> {
  await sql`DELETE FROM browser_sessions WHERE token_hash = ${hashToken(token)}`;
}
