import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { UseCases, Withdrawal } from '../../app';
import type { Sql } from '../../db/pool';
import { listWithdrawals, type WithdrawalPage } from '../../db/withdrawals';
import { MAX_CREDITS_PER_OPERATION, NotFound, ValidationError } from '../../domain';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { integerParam, uuidOf, wholeNumber } from '../schemas';
import { ownOrigin } from '../session';

export const withdrawalBody = z.object({ credits: wholeNumber(1, MAX_CREDITS_PER_OPERATION) }).strict();
export const idParam = z.object({ id: uuidOf('a withdrawal id') });
/** A withdrawal list's `cursor`: the id of the previous page's last withdrawal. */
export const withdrawalCursor = uuidOf('a cursor returned as nextCursor');

/** Cursor pagination: `cursor` is the `nextCursor` of the page before (the id of its last withdrawal). */
export const listQuery = z
  .object({ limit: integerParam(1, 100).default(20), cursor: withdrawalCursor.optional() })
  .strict();

/** `{data, nextCursor}`; a cursor that names no withdrawal of the list is a 400 naming `cursor`. */
export function withdrawalPageView<T>(page: WithdrawalPage | null, view: (w: Withdrawal) => T) {
  if (!page) throw new ValidationError('cursor', 'must be a cursor returned as nextCursor');
  return {
    data: page.withdrawals.map(view),
    nextCursor: page.more ? page.withdrawals.at(-1)!.id : null,
  };
}

/** A withdrawal as its owner sees it (the operator's view adds the user). */
export function withdrawalView(w: Withdrawal) {
  return {
    id: w.id,
    credits: w.credits,
    amountCents: w.amountCents,
    currency: w.currency,
    status: w.status,
    reason: w.reason,
    transferId: w.stripeTransferId,
    expiresAt: w.expiresAt,
    createdAt: w.createdAt,
    decidedAt: w.decidedAt,
  };
}

type Deps = { sql: Sql; requireUser: RequestHandler } & Pick<
  UseCases,
  'openPayoutAccount' | 'payoutAccountOf' | 'requestWithdrawal' | 'ownWithdrawal'
>;

/**
 * A creator's cash-out (DESIGN.md §11): the Stripe Connect account withdrawals are paid to, and
 * the withdrawals themselves (each a withdrawalWorkflow; the database answers the reads).
 */
export function withdrawalsRouter(deps: Deps): Router {
  const router = Router();

  router.post('/v1/payout-account', deps.requireUser, async (req, res) => {
    // No fields: the account is the caller's (an empty object or no body; anything else is refused,
    // as on every route, so a client's mistaken field is not silently ignored). Stripe's
    // onboarding brings the browser back to the credits page.
    parse(z.object({}).strict(), req.body ?? {});
    const returnUrl = `${ownOrigin(req)}/usercredits`;
    res.json(await deps.openPayoutAccount({ user: currentUser(res), returnUrl }));
  });

  router.get('/v1/payout-account', deps.requireUser, async (_req, res) => {
    const account = await deps.payoutAccountOf(currentUser(res).id);
    if (!account) throw new NotFound('no payout account yet: POST /v1/payout-account makes one');
    res.json({ accountId: account.stripeAccountId, payoutsEnabled: account.payoutsEnabled });
  });

  router.post('/v1/withdrawals', deps.requireUser, async (req, res) => {
    const body = parse(withdrawalBody, req.body);
    const key = idempotencyKey(req);
    const { created, withdrawal } = await deps.requestWithdrawal({
      user: currentUser(res),
      credits: body.credits,
      key,
    });
    res
      .status(created ? 201 : 200)
      .set(replayHeaders(!created))
      .json(withdrawalView(withdrawal));
  });

  router.get('/v1/withdrawals', deps.requireUser, async (req, res) => {
    const { limit, cursor } = parse(listQuery, req.query, 'query');
    const page = await listWithdrawals(deps.sql, currentUser(res).id, { limit, after: cursor });
    res.json(withdrawalPageView(page, withdrawalView));
  });

  router.get('/v1/withdrawals/:id', deps.requireUser, async (req, res) => {
    const { id } = parse(idParam, req.params, 'id');
    res.json(withdrawalView(await deps.ownWithdrawal(currentUser(res).id, id)));
  });
  return router;
}
