import express, { type Request, type Response, Router } from 'express';
import { z } from 'zod';
import type { Sql } from '../../db/pool';
import { referralCodeExists } from '../../db/referrals';
import { createUser } from '../../db/users';
import { Conflict, ValidationError } from '../../domain';
import { sendPage } from '../page-response';
import { SIGNUP_PATH, signedUpPage, signupPage } from '../pages/signup';
import { crossOrigin, signIn } from '../session';
import { clientAddress, RefusalBudget } from './users';

/** The same rule as POST /v1/users' `referralCode`. */
const REFERRAL_CODE = /^[A-Za-z0-9]{4,32}$/;
/** An empty form field is no value. */
const blankToUndefined = (value: unknown) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

export const signupQuery = z.object({ ref: z.string().optional() });
// Strict: a field the page does not have (`referralCode[a]`, a misspelt name) is refused, not
// ignored: ignored, a mangled referral code would make an account without its referral.
export const signupForm = z
  .object({
    email: z
      .string()
      .trim()
      .pipe(z.email({ message: 'must be an email address' }).max(254)),
    referralCode: z.preprocess(blankToUndefined, z.string().trim().regex(REFERRAL_CODE).optional()),
  })
  .strict();

/**
 * The sign-up page (DESIGN.md §11): `GET /signup?ref=CODE` shows the form with the invitation's
 * code filled in; posting it makes the account exactly as `POST /v1/users` does (with the code:
 * an unknown one is refused and nothing is made), signs this browser in with a session cookie
 * (api/session.ts, as the credits page's sign-in does) and shows the API key once, with the way
 * on to the credits page.
 */
export function signupPageRouter(deps: { sql: Sql }): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '10kb', parameterLimit: 10 });
  // A registered email must be named on this page too: as on POST /v1/users, each client
  // address gets only a few such answers per window (its own budget, per API process).
  const refusals = new RefusalBudget();

  router.get(SIGNUP_PATH, async (req, res) => {
    const ref = signupQuery.safeParse(req.query).data?.ref?.trim();
    if (!ref) {
      sendSignupPage(res, 200, signupPage());
      return;
    }
    const known = REFERRAL_CODE.test(ref) && (await referralCodeExists(deps.sql, ref));
    sendSignupPage(
      res,
      200,
      known
        ? signupPage({ referralCode: ref.toUpperCase(), referral: 'invited' })
        : signupPage({ referral: 'unknown' }),
    );
  });

  router.post(SIGNUP_PATH, form, async (req, res) => {
    // Signing up signs this browser in: another site must not be able to sign a visitor into
    // an account of its making (login CSRF), so the form must come from this page.
    if (crossOrigin(req)) {
      sendSignupPage(res, 403, signupPage({ error: 'This form must be sent from the sign-up page itself.' }));
      return;
    }
    const raw = formFields(req);
    const body = signupForm.safeParse(req.body ?? {});
    if (!body.success) {
      const issue = body.error.issues[0];
      const field = String(issue?.path[0] ?? 'email');
      const error =
        issue?.code === 'unrecognized_keys'
          ? 'This form sent a field the sign-up page does not have; send only email and referralCode.'
          : field === 'referralCode'
            ? 'A referral code is 4 to 32 letters or digits.'
            : 'Enter a valid email address.';
      sendSignupPage(res, 400, signupPage({ ...raw, error }));
      return;
    }
    const address = clientAddress(req);
    const wait = refusals.waitSeconds(address);
    if (wait > 0) {
      res.set('Retry-After', String(wait));
      sendSignupPage(
        res,
        429,
        signupPage({ ...raw, error: `Too many sign-ups for registered emails; try again in ${wait} s.` }),
      );
      return;
    }
    try {
      const { user, apiKey } = await createUser(deps.sql, body.data);
      await signIn(deps.sql, req, res, user);
      sendSignupPage(res, 201, signedUpPage({ email: user.email, apiKey, referralCode: user.referralCode }));
    } catch (error) {
      if (error instanceof ValidationError && error.field === 'referralCode') {
        const message = 'No one has this referral code. Check it, or leave it empty to sign up without one.';
        sendSignupPage(res, 400, signupPage({ ...raw, error: message }));
        return;
      }
      if (error instanceof Conflict) {
        refusals.record(address);
        const message =
          'An account with this email already exists. Sign in to User Credits with its API key.';
        sendSignupPage(res, 409, signupPage({ ...raw, error: message }));
        return;
      }
      throw error;
    }
  });

  return router;
}

/** What the visitor typed, to fill the form in again after a refusal (the page escapes it). */
function formFields(req: Request): { email?: string; referralCode?: string } {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return {};
  const field = (name: string) => {
    if (!Object.hasOwn(body, name)) return undefined;
    const value: unknown = (body as Record<string, unknown>)[name];
    return typeof value === 'string' ? value.slice(0, 254) : undefined;
  };
  return { email: field('email'), referralCode: field('referralCode') };
}

/** Sign-up pages post only to themselves. */
function sendSignupPage(res: Response, status: number, page: string): void {
  sendPage(res, status, page, { formsToSelfOnly: true });
}
