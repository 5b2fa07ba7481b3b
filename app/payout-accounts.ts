import type Stripe from 'stripe';
import { z } from 'zod';
import {
  findPayoutAccount,
  findPayoutAccountByStripeId,
  insertPayoutAccount,
  type PayoutAccount,
  updatePayoutAccountState,
} from '../db/payout-accounts';
import type { Sql } from '../db/pool';
import type { User } from '../db/users';

export type { PayoutAccount } from '../db/payout-accounts';

/*
 * A creator's Stripe Connect (Express) account (DESIGN.md §11): made once per user, onboarded on
 * Stripe's hosted page, and paid by withdrawals once Stripe says payouts are enabled. Stripe is
 * the source of truth for that flag: this system keeps a copy, refreshed from Stripe whenever
 * someone needs it and whenever Stripe announces a change (account.updated).
 */

/** The parts of a Stripe Account this system reads. */
export const connectAccountSchema = z
  .object({
    id: z.string().min(1),
    payouts_enabled: z.boolean().nullable().optional(),
    details_submitted: z.boolean().nullable().optional(),
    metadata: z.record(z.string(), z.string()).nullable().optional(),
  })
  .loose();

const accountLinkSchema = z.object({ url: z.string().min(1), expires_at: z.number().int() }).loose();

export interface PayoutAccountDeps {
  sql: Sql;
  stripe: Stripe;
}

export interface PayoutAccountView {
  accountId: string;
  /** Stripe's hosted onboarding for the account (single use, short-lived: ask again for a new one). */
  onboardingUrl: string;
  payoutsEnabled: boolean;
}

function stateOf(account: z.infer<typeof connectAccountSchema>) {
  return {
    payoutsEnabled: account.payouts_enabled ?? false,
    detailsSubmitted: account.details_submitted ?? false,
  };
}

/**
 * The user's payout account, made on first call, with a fresh onboarding link that brings the
 * browser back to `returnUrl` (the credits page). Calling again is safe: the same account, its
 * state re-read from Stripe, and a new link (Stripe's links are single-use and expire in minutes).
 */
export async function openPayoutAccount(
  deps: PayoutAccountDeps,
  request: { user: Pick<User, 'id' | 'email'>; returnUrl: string },
): Promise<PayoutAccountView> {
  const { user, returnUrl } = request;
  let account = await findPayoutAccount(deps.sql, user.id);
  if (!account) {
    // Keyed by the user: two first calls racing (or a retry after a crash before the insert,
    // within Stripe's 24 h key window) name one Stripe account, never two.
    const created = connectAccountSchema.parse(
      await deps.stripe.accounts.create(
        { type: 'express', email: user.email, metadata: { userId: user.id } },
        { idempotencyKey: `payout-account:${user.id}` },
      ),
    );
    account = await insertPayoutAccount(deps.sql, {
      userId: user.id,
      stripeAccountId: created.id,
      ...stateOf(created),
    });
  } else if (!account.payoutsEnabled) {
    account = (await refreshPayoutAccount(deps, account.stripeAccountId)) ?? account;
  }
  const link = accountLinkSchema.parse(
    await deps.stripe.accountLinks.create({
      account: account.stripeAccountId,
      type: 'account_onboarding',
      // Stripe sends the browser to refresh_url when the link has expired or was used: the
      // credits page, whose payout button asks for a new one.
      refresh_url: `${returnUrl}?payout=refresh`,
      return_url: `${returnUrl}?payout=return`,
    }),
  );
  return {
    accountId: account.stripeAccountId,
    onboardingUrl: link.url,
    payoutsEnabled: account.payoutsEnabled,
  };
}

/** The user's payout account as last known, without asking Stripe; null before the first POST. */
export async function payoutAccountOf(deps: { sql: Sql }, userId: string): Promise<PayoutAccount | null> {
  return findPayoutAccount(deps.sql, userId);
}

/**
 * Re-reads the account from Stripe and stores what it says. Used for `account.updated` too:
 * the event's own snapshot may be older than one already applied (webhooks arrive out of
 * order), the account as Stripe has it now is not. Null when no user has this account.
 */
export async function refreshPayoutAccount(
  deps: PayoutAccountDeps,
  stripeAccountId: string,
): Promise<PayoutAccount | null> {
  const account = connectAccountSchema.parse(await deps.stripe.accounts.retrieve(stripeAccountId));
  return updatePayoutAccountState(deps.sql, account.id, stateOf(account));
}

/**
 * What the webhook does with `account.updated`: refresh the account when it is one of ours
 * (another platform's or an unknown account is acknowledged and ignored).
 */
export async function payoutAccountUpdated(
  deps: PayoutAccountDeps,
  object: unknown,
): Promise<'payout account refreshed' | 'ignored: not a payout account'> {
  const parsed = connectAccountSchema.safeParse(object);
  if (!parsed.success) return 'ignored: not a payout account';
  if (!(await findPayoutAccountByStripeId(deps.sql, parsed.data.id))) return 'ignored: not a payout account';
  await refreshPayoutAccount(deps, parsed.data.id);
  return 'payout account refreshed';
}
