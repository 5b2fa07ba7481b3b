import { randomBytes } from 'node:crypto';
import type { Sql } from './pool';
import { hashApiKey } from './users';

/** How long an operator stays signed in to /admin. */
export const OPERATOR_SESSION_HOURS = 12;

/** Opens an operator session and returns its token (set once as a cookie); expired ones are dropped. */
export async function createOperatorSession(sql: Sql): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await sql`DELETE FROM operator_sessions WHERE expires_at <= now()`;
  await sql`
    INSERT INTO operator_sessions (token_hash, expires_at)
    VALUES (${hashApiKey(token)}, now() + make_interval(hours => ${OPERATOR_SESSION_HOURS}))`;
  return token;
}

export async function operatorSessionOpen(sql: Sql, token: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`
    SELECT true AS ok FROM operator_sessions WHERE token_hash = ${hashApiKey(token)} AND expires_at > now()`;
  return row !== undefined;
}

export async function deleteOperatorSession(sql: Sql, token: string): Promise<void> {
  await sql`DELETE FROM operator_sessions WHERE token_hash = ${hashApiKey(token)}`;
}
