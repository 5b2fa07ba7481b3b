import type { Client } from '@temporalio/client';
import { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import {
  CallbackUnavailable,
  heartbeatDetails,
  MAX_CHECKPOINT,
  reportCompletion,
  reportFailure,
  reportHeartbeat,
  taskTokenOf,
} from '../../app/executor-callbacks';
import { MAX_CREDITS_PER_OPERATION } from '../../domain';
import { bearer } from '../auth';
import { parse, unavailable } from '../errors';
import { freeText, opaqueText, wholeNumber } from '../schemas';

/** The longest task output kept (it travels through Temporal and lands in the task's row). */
export const MAX_TASK_OUTPUT = 20_000;
/** The longest failure message kept (it becomes the project's failureReason). */
export const MAX_FAILURE_MESSAGE = 1000;

/** The attempt's Temporal task token, base64url (app/executor-callbacks.ts issueCallback). */
export const callbackParams = z.object({
  callbackId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,2000}$/, { message: 'must be the callback id the task was sent with' }),
});
/** The checkpoint comes back to the runtime's next attempt: any text, but well formed. */
export const heartbeatBody = heartbeatDetails
  .extend({ checkpoint: opaqueText(MAX_CHECKPOINT).optional() })
  .strict();
export const completeBody = z
  .object({
    /** Settled up to the task's estimate (what was reserved); more is not charged. */
    usedCredits: wholeNumber(0, MAX_CREDITS_PER_OPERATION),
    output: freeText(MAX_TASK_OUTPUT),
  })
  .strict();
export const failBody = z
  .object({
    message: freeText(MAX_FAILURE_MESSAGE),
    retryable: z.boolean({ message: 'must be true or false' }).default(false),
  })
  .strict();

/**
 * The report's JSON body; an empty request (Content-Length: 0) is an empty report. A body the
 * JSON parser did not read never gets here: the app answers it 415 (api/json-body.ts), so an
 * empty heartbeat is never recorded from a body that said something else.
 */
function jsonBody(req: Request): unknown {
  return req.body ?? {};
}

/**
 * The agent runtime's reports on a task (README "Agent runtime"): heartbeat, complete, fail, each
 * with the callback id and `Bearer <token>` the task was sent with. In this order: a malformed
 * id is a 400, a wrong token a 401 (before the body is read, so a stranger learns nothing), a
 * body that is not JSON a 415, a bad body a 400 naming the field, an attempt that has ended a 409
 * attempt_closed, Temporal out of reach a 503 (the runtime retries the same report).
 */
export function executorCallbacksRouter(deps: {
  temporal: Client;
  executorCallbackSecret?: string | undefined;
}): Router {
  const router = Router();
  const taskToken = (req: Request): Uint8Array => {
    const { callbackId } = parse(callbackParams, req.params, 'callbackId');
    return taskTokenOf(deps.executorCallbackSecret, callbackId, bearer(req.headers.authorization));
  };
  /** Temporal's unavailability is not a fault of the request: 503 with Retry-After, not a 500. */
  const answer = async (res: Response, report: () => Promise<unknown>) => {
    try {
      res.json(await report());
    } catch (error) {
      if (!(error instanceof CallbackUnavailable)) throw error;
      const { status, body, headers } = unavailable('Temporal');
      res.set(headers).status(status).json(body);
    }
  };

  router.post('/v1/executor/tasks/:callbackId/heartbeat', async (req, res) => {
    const token = taskToken(req);
    const details = parse(heartbeatBody, jsonBody(req));
    await answer(res, () => reportHeartbeat(deps, token, details));
  });

  router.post('/v1/executor/tasks/:callbackId/complete', async (req, res) => {
    const token = taskToken(req);
    const result = parse(completeBody, jsonBody(req));
    await answer(res, async () => {
      await reportCompletion(deps, token, result);
      return { status: 'completed' };
    });
  });

  router.post('/v1/executor/tasks/:callbackId/fail', async (req, res) => {
    const token = taskToken(req);
    const failure = parse(failBody, jsonBody(req));
    await answer(res, async () => {
      await reportFailure(deps, token, failure);
      return { status: 'failed', retryable: failure.retryable };
    });
  });
  return router;
}
