/**
 * An agent runtime's reports on a task it runs (README "Agent runtime"): the worker hands the
 * runtime a callback per task attempt (issueCallback), the API checks it and passes the report
 * to Temporal as the attempt's heartbeat, completion or failure (asynchronous activity
 * completion), so a task may run for hours without holding a worker.
 *
 * Stateless on purpose: the callback id is the attempt's Temporal task token (base64url) and its
 * credential an HMAC of that id under EXECUTOR_CALLBACK_SECRET, so nothing is stored, any API
 * instance can check any callback, and Temporal alone decides whether the attempt is still open.
 * Temporal takes one result per attempt: a second report, a report after the heartbeat timeout
 * (the task was re-sent as a new attempt) or after a cancellation is refused (409
 * attempt_closed), so a task is settled, and charged, once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  ActivityCancelledError,
  ActivityCompletionError,
  ActivityNotFoundError,
  ActivityPausedError,
  ActivityResetError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { DomainError, Forbidden, Unauthorized } from '../domain';

/** The longest checkpoint a heartbeat may leave for the next attempt (it travels in Temporal). */
export const MAX_CHECKPOINT = 10_000;

/**
 * What a heartbeat records in Temporal. The next attempt of the same task gets the last one back
 * (`lastHeartbeat`), so a runtime can resume from its checkpoint instead of starting over.
 */
export const heartbeatDetails = z.object({
  progress: z
    .number({ message: 'must be a number' })
    .min(0, { message: 'must be from 0 to 1' })
    .max(1, { message: 'must be from 0 to 1' })
    .optional(),
  checkpoint: z
    .string({ message: 'must be a string' })
    .max(MAX_CHECKPOINT, { message: `must be at most ${MAX_CHECKPOINT.toLocaleString('en-US')} characters` })
    .optional(),
});
export type HeartbeatDetails = z.infer<typeof heartbeatDetails>;

/** Where the runtime reports, and the credential it sends (`Authorization: Bearer <token>`). */
export interface TaskCallback {
  id: string;
  token: string;
}

/** Versioned, so a future credential scheme cannot be confused with this one. */
const HMAC_CONTEXT = 'executor-callback/v1\n';

function credentialFor(secret: string, callbackId: string): Buffer {
  return createHmac('sha256', secret).update(HMAC_CONTEXT).update(callbackId).digest();
}

/** The callback of one task attempt (the worker calls it before sending the task). */
export function issueCallback(secret: string, taskToken: Uint8Array): TaskCallback {
  const id = Buffer.from(taskToken).toString('base64url');
  return { id, token: credentialFor(secret, id).toString('base64url') };
}

/**
 * The attempt's task token, once `token` proves the caller was given this callback. Forbidden
 * while the API has no secret (callbacks disabled); Unauthorized for a missing or wrong token.
 */
export function taskTokenOf(
  secret: string | undefined,
  callbackId: string,
  token: string | null,
): Uint8Array {
  if (secret === undefined)
    throw new Forbidden('executor callbacks are disabled: EXECUTOR_CALLBACK_SECRET is not set');
  if (token === null) throw new Unauthorized('Authorization: send "Bearer <callback token>"');
  // Compared as the text issued, not as decoded bytes: Node's base64 decoder skips characters
  // it does not know, so `<token>!` would decode to the same bytes and pass. Constant time; a
  // token of another length cannot match.
  const expected = Buffer.from(credentialFor(secret, callbackId).toString('base64url'));
  const given = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new Unauthorized('Authorization: the callback token does not match this task');
  return Buffer.from(callbackId, 'base64url');
}

/** The attempt is no longer waiting for a report: reported already, timed out, or cancelled. */
export class AttemptClosed extends DomainError {
  readonly code = 'attempt_closed';
  constructor() {
    super(
      'this task attempt has ended (already reported, timed out after missed heartbeats, or cancelled): stop working on it; a re-sent task comes with a new callback',
    );
  }
}

/** Temporal could not be asked; the same report can succeed later (the API answers 503). */
export class CallbackUnavailable extends Error {
  constructor(cause: unknown) {
    super('Temporal did not take the report', { cause });
    this.name = 'CallbackUnavailable';
  }
}

/**
 * Temporal's answer to a report, in domain terms. A callback with a valid credential carries a
 * token the worker was given, so any other refusal means Temporal was unreachable or busy.
 */
async function report<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof ActivityNotFoundError) throw new AttemptClosed();
    if (error instanceof ActivityCompletionError) throw new CallbackUnavailable(error);
    throw error;
  }
}

export interface CallbackDeps {
  temporal: Client;
}

/**
 * Records a heartbeat (and its details for a later attempt). When the project was cancelled
 * meanwhile, the cancellation is acknowledged here on the runtime's behalf, so the project's
 * reservation is released at once; the answer tells the runtime to stop.
 */
export async function reportHeartbeat(
  deps: CallbackDeps,
  taskToken: Uint8Array,
  details: HeartbeatDetails,
): Promise<{ cancelRequested: boolean }> {
  try {
    await report(() => deps.temporal.activity.heartbeat(taskToken, details));
    return { cancelRequested: false };
  } catch (error) {
    // An operator's pause or reset in the Web UI is not passed on: the heartbeat was recorded,
    // and Temporal handles the attempt as it does any other activity's.
    if (error instanceof ActivityPausedError || error instanceof ActivityResetError)
      return { cancelRequested: false };
    if (!(error instanceof ActivityCancelledError)) throw error;
  }
  try {
    await report(() => deps.temporal.activity.reportCancellation(taskToken));
  } catch (error) {
    // Acknowledged already (an earlier heartbeat) or timed out meanwhile: it is over either way.
    if (!(error instanceof AttemptClosed)) throw error;
  }
  return { cancelRequested: true };
}

/** The task's result: the workflow settles `usedCredits` (capped at the reservation) once. */
export async function reportCompletion(
  deps: CallbackDeps,
  taskToken: Uint8Array,
  result: { usedCredits: number; output: string },
): Promise<void> {
  await report(() => deps.temporal.activity.complete(taskToken, result));
}

/**
 * The task failed. For good by default (as the simulator's TaskFailed: the reservation is
 * released and the project fails with `message`); `retryable` makes it a failed attempt instead,
 * re-sent as a new attempt while attempts remain.
 */
export async function reportFailure(
  deps: CallbackDeps,
  taskToken: Uint8Array,
  failure: { message: string; retryable: boolean },
): Promise<void> {
  const error = ApplicationFailure.create({
    type: failure.retryable ? 'ExecutorAttemptFailed' : 'TaskFailed',
    message: failure.message,
    nonRetryable: !failure.retryable,
  });
  await report(() => deps.temporal.activity.fail(taskToken, error));
}
