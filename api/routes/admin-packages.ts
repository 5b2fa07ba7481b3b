import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { AdminPackage, UseCases } from '../../app';
import {
  isSupportedCurrency,
  isUserId,
  MAX_PACKAGE_CREDITS,
  MAX_PACKAGE_PRICE,
  MAX_PACKAGE_PURCHASES,
  MAX_PACKAGE_VIEWERS,
} from '../../app/packages';
import { listAdminPackages, PACKAGE_STATUSES } from '../../db/packages';
import type { Sql } from '../../db/pool';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { integerParam, uuidOf, visibleText, wholeNumber } from '../schemas';
import { checkoutReturnUrl } from './purchases';

const email = z.email();

/** A user id, or an email address (someone who may sign up later): what `visibleTo` names. */
const viewer = z
  .string({ message: 'must be a user id (UUID) or an email address' })
  .max(254, { message: 'must be at most 254 characters' })
  .refine((v) => isUserId(v) || email.safeParse(v).success, {
    message: 'must be a user id (UUID) or an email address',
  });

export const packageBody = z
  .object({
    name: visibleText(200),
    credits: wholeNumber(1, MAX_PACKAGE_CREDITS),
    priceCents: wholeNumber(1, MAX_PACKAGE_PRICE),
    currency: z
      .string({ message: 'must be a currency code' })
      .refine(isSupportedCurrency, {
        message: 'must be an ISO 4217 currency code, such as usd, eur or jpy',
      })
      .transform((code) => code.toLowerCase()),
    visibleTo: z
      .array(viewer, { message: 'must be a list of user ids or email addresses' })
      .min(1, { message: 'must name at least one user id or email address' })
      .max(MAX_PACKAGE_VIEWERS, { message: `must name at most ${MAX_PACKAGE_VIEWERS} users` }),
    // zod checks the calendar (no 30 February); the offset may be Z or ±hh:mm.
    expiresAt: z.iso
      .datetime({ offset: true, message: 'must be a date and time, ISO 8601 (2030-01-31T00:00:00Z)' })
      .refine((at) => Date.parse(at) > Date.now(), { message: 'must be in the future' })
      .optional(),
    maxPurchases: wholeNumber(1, MAX_PACKAGE_PURCHASES).optional(),
    requestId: uuidOf('a package request id').optional(),
  })
  .strict();

export const listQuery = z
  .object({
    status: z.enum(PACKAGE_STATUSES, { message: `must be one of ${PACKAGE_STATUSES.join(', ')}` }).optional(),
    limit: integerParam(1, 500).default(100),
  })
  .strict();

export const idParam = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { message: 'must be a package id' }),
});

/** The operator's view: the buyer's fields, who sees it, its limits, status and purchase counts. */
function adminPackageView(p: AdminPackage) {
  return {
    id: p.id,
    name: p.name,
    credits: p.credits,
    priceCents: p.priceCents,
    currency: p.currency,
    pricePer1000Cents: p.pricePer1000Cents,
    status: p.status,
    custom: p.custom,
    visibleTo: p.visibleTo,
    expiresAt: p.expiresAt,
    maxPurchases: p.maxPurchases,
    purchaseCount: p.purchaseCount,
    pendingCount: p.pendingCount,
    slotsLeft: p.slotsLeft,
    requestId: p.requestId,
    createdAt: p.createdAt,
    archivedAt: p.archivedAt,
  };
}

/**
 * Custom (enterprise) packages (DESIGN.md §12), operator key only: create one for named users,
 * list every package with its status and purchases, archive one. The rules are app/packages.ts's.
 */
export function adminPackagesRouter(
  deps: { sql: Sql; requireOperator: RequestHandler } & Pick<
    UseCases,
    'createCustomPackage' | 'archiveCustomPackage'
  >,
): Router {
  const router = Router();

  router.post('/v1/admin/packages', deps.requireOperator, async (req, res) => {
    const input = parse(packageBody, req.body);
    const key = idempotencyKey(req);
    const result = await deps.createCustomPackage({ input, key, creditsPageUrl: checkoutReturnUrl(req) });
    res
      .status(result.created ? 201 : 200)
      .set(replayHeaders(!result.created))
      .json({
        ...adminPackageView(result.package),
        ...(result.notified === null ? {} : { notified: result.notified }),
      });
  });

  router.get('/v1/admin/packages', deps.requireOperator, async (req, res) => {
    const query = parse(listQuery, req.query, 'query');
    res.json({ data: (await listAdminPackages(deps.sql, query)).map(adminPackageView) });
  });

  // Archives rather than deletes: purchases reference the package. A second DELETE answers the same.
  router.delete('/v1/admin/packages/:id', deps.requireOperator, async (req, res) => {
    const { id } = parse(idParam, req.params, 'id');
    res.json(adminPackageView(await deps.archiveCustomPackage(id)));
  });
  return router;
}
