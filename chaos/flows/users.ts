import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ChaosUser, SignedUpUser } from '../journal';
import type { FlowContext } from './context';

const signedUp = z.object({
  id: z.uuid(),
  email: z.string().min(3),
  apiKey: z.string().min(1),
  referralCode: z.string().min(1),
});
const granted = z.object({ credits: z.number().int() });
const credits = z.number().int().min(0);
const balanceAnswer = z.object({
  available: credits,
  buckets: z.object({
    purchased: z.object({ available: credits }),
    earned: z.object({ available: credits, withdrawable: credits }),
  }),
});
export type ChaosBalance = z.infer<typeof balanceAnswer>;

/** A fresh address at the test domain. */
export const chaosEmail = () => `chaos-${randomUUID()}@example.test`;

/**
 * A new user through POST /v1/users (with another user's referral code when given); null when
 * no answer came (the user may exist, unknown to us).
 */
export async function signUp(
  ctx: FlowContext,
  options: { email?: string; referralCode?: string; kind?: string } = {},
): Promise<SignedUpUser | null> {
  const answer = await ctx.api.call({
    kind: options.kind ?? 'sign-up',
    method: 'POST',
    path: '/v1/users',
    body: {
      email: options.email ?? chaosEmail(),
      ...(options.referralCode ? { referralCode: options.referralCode } : {}),
    },
  });
  if (answer.status !== 201) return null;
  const user = signedUp.parse(answer.body);
  ctx.journal.users.push(user);
  return user;
}

/** An operator grant (POST /v1/admin/grants), retried under one Idempotency-Key. */
export async function grant(ctx: FlowContext, userId: string, credits: number): Promise<boolean> {
  const key = `chaos-grant-${randomUUID()}`;
  const answer = await ctx.api.call({
    kind: 'grant',
    method: 'POST',
    path: '/v1/admin/grants',
    key: ctx.adminKey,
    body: { userId, credits },
    idempotencyKey: key,
  });
  ctx.journal.grants.push({ userId, credits, key, answered: answer.status });
  return answer.status === 201 && granted.parse(answer.body).credits === credits;
}

/** A signed-up user holding `credits` granted credits; null if either step got no answer. */
export async function fundedUser(ctx: FlowContext, credits: number): Promise<ChaosUser | null> {
  const user = await signUp(ctx);
  if (!user) return null;
  return (await grant(ctx, user.id, credits)) ? user : null;
}

/** The user's balance as GET /v1/balance answers it (null when no answer came). */
export async function readBalance(ctx: FlowContext, user: ChaosUser): Promise<ChaosBalance | null> {
  const answer = await ctx.api.call({
    kind: 'balance',
    method: 'GET',
    path: '/v1/balance',
    key: user.apiKey,
  });
  return answer.status === 200 ? balanceAnswer.parse(answer.body) : null;
}
