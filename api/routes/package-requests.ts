import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { PackageRequest, UseCases } from '../../app';
import { MAX_REQUEST_MESSAGE } from '../../app/package-requests';
import { MAX_PACKAGE_CREDITS } from '../../app/packages';
import {
  listAllPackageRequests,
  listPackageRequests,
  PACKAGE_REQUEST_STATUSES,
} from '../../db/package-requests';
import type { Sql } from '../../db/pool';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { freeText, integerParam, wholeNumber } from '../schemas';

/** What a contact-sales request asks for; the credits page's form posts the same fields. */
export const packageRequestBody = z
  .object({
    credits: wholeNumber(1, MAX_PACKAGE_CREDITS),
    message: freeText(MAX_REQUEST_MESSAGE).optional(),
  })
  .strict();

export const listQuery = z.object({ limit: integerParam(1, 100).default(20) }).strict();
export const adminListQuery = z
  .object({
    status: z
      .enum(PACKAGE_REQUEST_STATUSES, { message: `must be one of ${PACKAGE_REQUEST_STATUSES.join(', ')}` })
      .optional(),
    limit: integerParam(1, 500).default(100),
  })
  .strict();

/** A request as its user sees it. */
export function packageRequestView(r: PackageRequest) {
  return {
    id: r.id,
    status: r.status,
    credits: r.credits,
    message: r.message,
    packageId: r.packageId,
    createdAt: r.createdAt,
    answeredAt: r.answeredAt,
  };
}

/**
 * Contact sales (DESIGN.md §12): a user asks for a custom package (their key or session); the
 * operator lists the requests and answers one by `POST /v1/admin/packages {requestId}`.
 */
export function packageRequestsRouter(
  deps: { sql: Sql; requireUser: RequestHandler; requireOperator: RequestHandler } & Pick<
    UseCases,
    'requestPackage'
  >,
): Router {
  const router = Router();

  router.post('/v1/package-requests', deps.requireUser, async (req, res) => {
    const body = parse(packageRequestBody, req.body);
    const { created, request } = await deps.requestPackage({
      user: currentUser(res),
      credits: body.credits,
      message: body.message ?? null,
      key: idempotencyKey(req),
    });
    res
      .status(created ? 201 : 200)
      .set(replayHeaders(!created))
      .json(packageRequestView(request));
  });

  router.get('/v1/package-requests', deps.requireUser, async (req, res) => {
    const { limit } = parse(listQuery, req.query, 'query');
    const rows = await listPackageRequests(deps.sql, currentUser(res).id, limit);
    res.json({ data: rows.map(packageRequestView) });
  });

  router.get('/v1/admin/package-requests', deps.requireOperator, async (req, res) => {
    const query = parse(adminListQuery, req.query, 'query');
    const rows = await listAllPackageRequests(deps.sql, query);
    res.json({ data: rows.map((r) => ({ ...packageRequestView(r), userId: r.userId, email: r.email })) });
  });
  return router;
}
