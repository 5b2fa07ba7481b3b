import { type RequestHandler, Router } from 'express';
import { z } from 'zod';
import type { UsageReversalAnswer, UsageReversalRequest } from '../../app';
import { currentUser } from '../auth';
import { parse } from '../errors';
import { idempotencyKey, replayHeaders } from '../idempotency';
import { freeText, visibleText } from '../schemas';

/** The longest reason a reversal keeps. */
export const MAX_REVERSAL_REASON = 500;

export const reversalParams = z.object({ eventId: visibleText(200) });
export const reversalBody = z.object({ reason: freeText(MAX_REVERSAL_REASON) }).strict();

/**
 * POST /v1/usage/:eventId/reversal `{reason}` (DESIGN.md §12): the event's owner takes a failed
 * action's charge back (app/usage-reversals.ts). 201 for the reversal; 200 with
 * `Idempotent-Replayed: true` and the first reversal for any later request; 404 for an event
 * that is not the caller's; 409 after the window.
 */
export function usageReversalsRouter(deps: {
  reverseUsage: (request: UsageReversalRequest) => Promise<UsageReversalAnswer>;
  requireUser: RequestHandler;
}): Router {
  const router = Router();

  router.post('/v1/usage/:eventId/reversal', deps.requireUser, async (req, res) => {
    // The event names the reversal (one per event), so a key adds nothing; its shape is still checked.
    idempotencyKey(req);
    const { eventId } = parse(reversalParams, req.params, 'eventId');
    const { reason } = parse(reversalBody, req.body ?? {});
    const result = await deps.reverseUsage({ user: currentUser(res), eventId, reason });
    res
      .set(replayHeaders(result.replayed))
      .status(result.replayed ? 200 : 201)
      .json({
        eventId: result.eventId,
        reversedCredits: result.reversedCredits,
        creatorShareReversed: result.creatorShareReversed,
        creatorShareShortfall: result.creatorShareShortfall,
        reason: result.reason,
        createdAt: result.createdAt,
        balance: result.balance,
        replayed: result.replayed,
      });
  });
  return router;
}
