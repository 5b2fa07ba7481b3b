import type postgres from 'postgres';
import { IdempotencyConflict } from '../domain';
import type { Sql } from './pool';

export const PACKAGE_REQUEST_STATUSES = ['open', 'answered'] as const;
export type PackageRequestStatus = (typeof PACKAGE_REQUEST_STATUSES)[number];

/** A user's "contact sales" request for a package of `credits` (DESIGN.md §12). */
export interface PackageRequest {
  id: string;
  userId: string;
  /** The requester's email, for the operator's list. */
  email: string;
  credits: number;
  message: string | null;
  status: PackageRequestStatus;
  /** The custom package that answered it. */
  packageId: string | null;
  createdAt: string;
  answeredAt: string | null;
}

interface RequestRow {
  id: string;
  user_id: string;
  email: string;
  credits: number;
  message: string | null;
  status: PackageRequestStatus;
  package_id: string | null;
  created_at: Date;
  answered_at: Date | null;
}

function toRequest(r: RequestRow): PackageRequest {
  return {
    id: r.id,
    userId: r.user_id,
    email: r.email,
    credits: r.credits,
    message: r.message,
    status: r.status,
    packageId: r.package_id,
    createdAt: r.created_at.toISOString(),
    answeredAt: r.answered_at?.toISOString() ?? null,
  };
}

function select(sql: postgres.ISql) {
  return sql`SELECT r.id, r.user_id, u.email, r.credits, r.message, r.status, r.package_id,
    r.created_at, r.answered_at FROM package_requests r JOIN users u ON u.id = r.user_id`;
}

/** Any constant: with the user id, serialises one user's new requests so the open-request cap holds. */
const REQUEST_LOCK = 7_241_015;

/**
 * Records a request unless the user already has `maxOpen` open ones (then `capped`). The same
 * id again (a retried form or Idempotency-Key) returns the first request, `created: false`,
 * if its body hashes the same, else IdempotencyConflict.
 */
export async function insertPackageRequest(
  sql: Sql,
  r: { id: string; userId: string; credits: number; message: string | null; requestHash: string },
  maxOpen: number,
): Promise<{ created: boolean; capped: boolean; request: PackageRequest | null }> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${REQUEST_LOCK}, hashtext(${r.userId}))`;
    const [existing] = await tx<{ request_hash: string; user_id: string }[]>`
      SELECT request_hash, user_id FROM package_requests WHERE id = ${r.id}`;
    if (existing) {
      if (existing.request_hash !== r.requestHash || existing.user_id !== r.userId)
        throw new IdempotencyConflict(`package request ${r.id}`);
      return { created: false, capped: false, request: await findIn(tx, r.id) };
    }
    const [open] = await tx<{ n: number }[]>`
      SELECT count(*)::int AS n FROM package_requests WHERE user_id = ${r.userId} AND status = 'open'`;
    if (open!.n >= maxOpen) return { created: false, capped: true, request: null };
    await tx`
      INSERT INTO package_requests (id, user_id, credits, message, request_hash)
      VALUES (${r.id}, ${r.userId}, ${r.credits}, ${r.message}, ${r.requestHash})`;
    return { created: true, capped: false, request: await findIn(tx, r.id) };
  });
}

async function findIn(sql: postgres.ISql, id: string): Promise<PackageRequest | null> {
  const [row] = await sql<RequestRow[]>`${select(sql)} WHERE r.id = ${id}`;
  return row ? toRequest(row) : null;
}

export function findPackageRequest(sql: Sql, id: string): Promise<PackageRequest | null> {
  return findIn(sql, id);
}

/** The user's own requests, newest first. */
export async function listPackageRequests(
  sql: Sql,
  userId: string,
  limit: number,
): Promise<PackageRequest[]> {
  const rows = await sql<RequestRow[]>`
    ${select(sql)} WHERE r.user_id = ${userId} ORDER BY r.created_at DESC, r.id LIMIT ${limit}`;
  return rows.map(toRequest);
}

/** Every user's requests for operators, newest first, optionally of one status. */
export async function listAllPackageRequests(
  sql: Sql,
  options: { status?: PackageRequestStatus | undefined; limit: number },
): Promise<PackageRequest[]> {
  const rows = await sql<RequestRow[]>`
    ${select(sql)} ${options.status ? sql`WHERE r.status = ${options.status}` : sql``}
    ORDER BY r.created_at DESC, r.id LIMIT ${options.limit}`;
  return rows.map(toRequest);
}

/**
 * open → answered by `packageId`, inside the transaction that creates the package; false when
 * the request is not open any more (answered by another package meanwhile): the caller rolls back.
 */
export async function answerPackageRequest(
  tx: postgres.TransactionSql,
  requestId: string,
  packageId: string,
): Promise<boolean> {
  const rows = await tx`
    UPDATE package_requests SET status = 'answered', package_id = ${packageId}, answered_at = now()
    WHERE id = ${requestId} AND status = 'open' RETURNING id`;
  return rows.length === 1;
}
