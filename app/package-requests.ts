/**
 * Contact sales (DESIGN.md §12): a user asks for a package of some size; an operator answers by
 * creating a custom package with the request's id (app/packages.ts), which marks it answered and
 * emails the user. Used by `POST /v1/package-requests` and the credits page's form alike.
 */
import { randomUUID } from 'node:crypto';
import { uuidFromSeed } from '../db/ids';
import { requestHash } from '../db/ledger';
import { insertPackageRequest, type PackageRequest } from '../db/package-requests';
import type { Sql } from '../db/pool';
import type { User } from '../db/users';
import { Conflict } from '../domain';

export type { PackageRequest, PackageRequestStatus } from '../db/package-requests';

/**
 * Open requests one user may have at a time: enough for a real conversation with sales, few
 * enough that a script cannot fill the operators' queue. Answered ones do not count.
 */
export const MAX_OPEN_PACKAGE_REQUESTS = 5;
export const MAX_REQUEST_MESSAGE = 2000;

/** The same key names the same request, so a retried POST or a double-submitted form makes one. */
function requestId(userId: string, key: string | undefined): string {
  return key ? uuidFromSeed(`package-request:${userId}:${key}`) : randomUUID();
}

/** Records the user's request; `created: false` for a replay of the same key and body. */
export async function requestPackage(
  deps: { sql: Sql },
  request: { user: Pick<User, 'id'>; credits: number; message: string | null; key: string | undefined },
): Promise<{ created: boolean; request: PackageRequest }> {
  const { user } = request;
  const result = await insertPackageRequest(
    deps.sql,
    {
      id: requestId(user.id, request.key),
      userId: user.id,
      credits: request.credits,
      message: request.message,
      requestHash: requestHash('package-request', { credits: request.credits, message: request.message }),
    },
    MAX_OPEN_PACKAGE_REQUESTS,
  );
  if (result.capped || !result.request)
    throw new Conflict(
      `you already have ${MAX_OPEN_PACKAGE_REQUESTS} open package requests; sales will answer them first`,
    );
  return { created: result.created, request: result.request };
}
