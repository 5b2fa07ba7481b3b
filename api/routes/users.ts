import { type Request, Router } from 'express';
import { z } from 'zod';
import type { Sql } from '../../db/pool';
import { createUser } from '../../db/users';
import { Conflict } from '../../domain';
import { errorBody, parse } from '../errors';

export const signUp = z
  .object({
    email: z.email({ message: 'must be an email address' }).max(254),
    referralCode: z
      .string()
      .regex(/^[A-Za-z0-9]{4,32}$/, { message: 'must be 4 to 32 letters or digits' })
      .optional(),
  })
  .strict();

/** "Already registered" answers one client address may get per window (README, Choices). */
export const SIGN_UP_REFUSALS_PER_WINDOW = 5;
export const SIGN_UP_WINDOW_SECONDS = 15 * 60;
/** Addresses remembered at most; the oldest window is forgotten first. */
const MAX_ADDRESSES = 10_000;

/**
 * A sign-up for a registered email must say so (the client has to know why it failed), which
 * tells whoever asks that the email is registered. So each client address gets only a few such
 * answers per window; after that every sign-up from it, new email or not, answers 429 until the
 * window ends, and probing addresses one by one stops paying. Per API process (a restart forgets).
 * The /signup page (api/routes/signup-page.ts) keeps one too.
 */
export class RefusalBudget {
  private windows = new Map<string, { refusals: number; endsAt: number }>();

  /** Seconds until `address` may sign up again; 0 when it may now. */
  waitSeconds(address: string, now = Date.now()): number {
    const window = this.windows.get(address);
    if (!window || window.endsAt <= now) return 0;
    return window.refusals >= SIGN_UP_REFUSALS_PER_WINDOW ? Math.ceil((window.endsAt - now) / 1000) : 0;
  }

  record(address: string, now = Date.now()): void {
    const current = this.windows.get(address);
    const window =
      current && current.endsAt > now
        ? current
        : { refusals: 0, endsAt: now + SIGN_UP_WINDOW_SECONDS * 1000 };
    window.refusals += 1;
    this.windows.delete(address); // re-inserted last: the Map's order is the eviction order
    this.windows.set(address, window);
    if (this.windows.size > MAX_ADDRESSES) this.windows.delete(this.windows.keys().next().value!);
  }
}

export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

export function usersRouter(deps: { sql: Sql }): Router {
  const router = Router();
  const refusals = new RefusalBudget();
  router.post('/v1/users', async (req, res) => {
    const body = parse(signUp, req.body);
    const address = clientAddress(req);
    const wait = refusals.waitSeconds(address);
    if (wait > 0) {
      res
        .status(429)
        .set('Retry-After', String(wait))
        .json(errorBody('rate_limited', `too many sign-ups for registered emails; try again in ${wait} s`));
      return;
    }
    try {
      const { user, apiKey } = await createUser(deps.sql, body);
      res.status(201).json({ id: user.id, email: user.email, apiKey, referralCode: user.referralCode });
    } catch (error) {
      if (error instanceof Conflict) refusals.record(address);
      throw error;
    }
  });
  return router;
}
