-- Withdrawals (issue 14, DESIGN.md §11): a creator's Stripe Connect account, and one row per
-- withdrawal, kept in step with its withdrawalWorkflow. The money itself is a ledger hold on the
-- user's earned bucket (posted to system:withdrawals when paid); these rows only say where it goes
-- and what became of it.

-- One Express account per user, made once (POST /v1/payout-account). `payouts_enabled` mirrors
-- Stripe's flag: refreshed from Stripe on account.updated and whenever a withdrawal needs it.
CREATE TABLE payout_accounts (
  user_id           uuid PRIMARY KEY REFERENCES users (id),
  stripe_account_id text COLLATE "C" NOT NULL UNIQUE CHECK (length(stripe_account_id) BETWEEN 1 AND 255),
  payouts_enabled   boolean NOT NULL DEFAULT false,
  details_submitted boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The workflow moves a row out of pending_approval once, to one final status; every update is
-- conditional on `status = 'pending_approval'` (db/withdrawals.ts), so a retried or late step
-- never overwrites an outcome.
CREATE TABLE withdrawals (
  id                 uuid PRIMARY KEY,
  user_id            uuid NOT NULL REFERENCES users (id),
  credits            bigint NOT NULL CHECK (credits > 0),
  amount_cents       bigint NOT NULL CHECK (amount_cents > 0),
  currency           text COLLATE "C" NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  status             text COLLATE "C" NOT NULL DEFAULT 'pending_approval'
                     CHECK (status IN ('pending_approval', 'paid', 'rejected', 'failed', 'expired')),
  -- The ledger hold that carries the credits from request to payout or release.
  hold_id            uuid NOT NULL UNIQUE,
  -- Where the money goes, fixed when the withdrawal is asked for.
  destination        text COLLATE "C" NOT NULL,
  -- Set once Stripe made the transfer; a paid withdrawal always has one.
  stripe_transfer_id text COLLATE "C" UNIQUE,
  -- The operator's reason for a rejection, or why the transfer failed.
  reason             text CHECK (length(reason) <= 1000),
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  decided_at         timestamptz,
  CHECK ((status = 'pending_approval') = (decided_at IS NULL)),
  CHECK (status <> 'paid' OR stripe_transfer_id IS NOT NULL)
);
CREATE INDEX withdrawals_user_idx ON withdrawals (user_id, created_at DESC);
-- The operator's list (GET /v1/admin/withdrawals?status=pending_approval), oldest first.
CREATE INDEX withdrawals_status_idx ON withdrawals (status, created_at);
