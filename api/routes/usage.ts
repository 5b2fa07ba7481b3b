import { type RequestHandler, Router } from 'express';
import { type Ledger, requestHash } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import type { RateCards } from '../../db/rate-cards';
import { DAY_MS, dayRange, isRecorded, usageSummary } from '../../db/usage';
import type { User } from '../../db/users';
import { InsufficientCredits, type Price, priceUsage, ValidationError } from '../../domain';
import type { Mailer } from '../../mail/mailer';
import { noticeIfLowBalanceCrossed } from '../../mail/notices';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { dateRangeQuery, usageBody } from '../schemas';

export type DebitPath = 'group-commit' | 'one-transaction';

/** A 402 that says what the event costs and what the user has, in words a client can show. */
async function chargeOrExplain<T>(feature: string, charge: () => Promise<T>): Promise<T> {
  try {
    return await charge();
  } catch (error) {
    if (error instanceof InsufficientCredits) {
      throw new InsufficientCredits(error.needed, error.available, `this ${feature} event`);
    }
    throw error;
  }
}

export interface UsageDeps {
  sql: Sql;
  ledger: Ledger;
  rateCards: RateCards;
  mailer: Mailer;
  debitPath?: DebitPath | undefined;
}

/**
 * POST /v1/usage without HTTP: parse, price, debit (idempotent by eventId), notice. Shared by
 * the Express route and the fast path (api/usage-fast-path.ts), so both answer alike.
 */
export function createUsageCharger(deps: UsageDeps) {
  const debit =
    deps.debitPath === 'one-transaction'
      ? deps.ledger.debitAlone.bind(deps.ledger)
      : deps.ledger.debit.bind(deps.ledger);
  return async (user: User, rawBody: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const body = parse(usageBody, rawBody);
    const card = await deps.rateCards.latest();
    const debitKey = `usage:${user.id}:${body.eventId}`;
    let price: Price;
    try {
      price = priceUsage(card, body);
    } catch (error) {
      // Today's card may not price an event charged earlier (a retired model): its replay still
      // gets the original. The amount below is then ignored: the ledger answers from the record.
      if (!(error instanceof ValidationError) || !(await isRecorded(deps.sql, debitKey))) throw error;
      price = { credits: 1, rateCardVersion: card.version, breakdown: [] };
    }
    // A replay (same eventId, same body) returns the stored result even if prices changed since.
    const result = await chargeOrExplain(body.feature, () =>
      debit({
        idempotencyKey: debitKey,
        userId: user.id,
        amount: price.credits,
        kind: `usage:${body.feature}`,
        description: `${body.feature} (rate card v${price.rateCardVersion})`,
        // The request's identity is the user and the body, whatever the rate card says now.
        fingerprint: requestHash('usage', { ...body, userId: user.id }),
        memo: {
          eventId: body.eventId,
          feature: body.feature,
          rateCardVersion: price.rateCardVersion,
          breakdown: price.breakdown,
          ...(body.agentId ? { agentId: body.agentId } : {}),
        },
      }),
    );
    if (!result.replayed) {
      // Before answering, so a client reading its notices right after sees it. Never fails the charge.
      await noticeIfLowBalanceCrossed(deps.mailer, {
        user,
        debitKey,
        charged: result.amount,
        availableAfter: result.availableAfter,
      }).catch(() => {});
    }
    return {
      status: result.replayed ? 200 : 201,
      body: {
        eventId: body.eventId,
        charged: result.amount,
        balance: result.availableAfter,
        ...result.memo,
        replayed: result.replayed === true,
      },
    };
  };
}

const MAX_SUMMARY_DAYS = 366;
const DEFAULT_SUMMARY_DAYS = 30;

/** Metering: charge one usage event at once; what was spent, by feature and day. */
export function usageRouter(deps: UsageDeps & { requireUser: RequestHandler }): Router {
  const router = Router();
  const charge = createUsageCharger(deps);

  router.post('/v1/usage', deps.requireUser, async (req, res) => {
    const { status, body } = await charge(currentUser(res), req.body);
    res.status(status).json(body);
  });

  router.get('/v1/usage/summary', deps.requireUser, async (req, res) => {
    const query = parse(dateRangeQuery, req.query, 'query');
    const { from: defaultFrom, to } = dayRange(DEFAULT_SUMMARY_DAYS, query.to);
    const from = query.from ?? defaultFrom;
    const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
    if (days < 1) throw new ValidationError('from', 'must not be after to');
    if (days > MAX_SUMMARY_DAYS)
      throw new ValidationError('from', `the range is at most ${MAX_SUMMARY_DAYS} days`);
    res.json(await usageSummary(deps.sql, currentUser(res).id, from, to));
  });
  return router;
}
