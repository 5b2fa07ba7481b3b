-- Purchases (issue 5): one row per purchase saga, the Stripe events received, refunds made.

CREATE TABLE purchases (
  id                  uuid PRIMARY KEY,
  user_id             uuid NOT NULL REFERENCES users (id),
  package_id          text NOT NULL REFERENCES packages (id),
  credits             bigint NOT NULL CHECK (credits > 0),
  price_cents         bigint NOT NULL CHECK (price_cents > 0),
  currency            text NOT NULL,
  status              text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'completed', 'failed', 'expired', 'refunded')),
  checkout_session_id text UNIQUE,
  checkout_url        text,
  payment_intent_id   text UNIQUE,
  failure_reason      text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  completed_at        timestamptz,
  CHECK ((status IN ('completed', 'refunded')) = (completed_at IS NOT NULL))
);
CREATE INDEX purchases_user_idx ON purchases (user_id, created_at DESC);

-- Only forward moves: pending → completed | failed | expired, completed → refunded.
-- purchases_guard_status: see db/functions/purchases_guard_status.sql (re-applied by every migrate).
CREATE TRIGGER purchases_status BEFORE UPDATE ON purchases
  FOR EACH ROW EXECUTE FUNCTION purchases_guard_status();

-- Each Stripe event is stored once: redeliveries hit the primary key.
CREATE TABLE stripe_events (
  id          text PRIMARY KEY,
  type        text NOT NULL,
  payload     jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- Refunds this system made or learned about: a duplicate charge refunded automatically, or a
-- refund of the credited payment (which takes the credits back).
CREATE TABLE purchase_refunds (
  id                uuid PRIMARY KEY,
  purchase_id       uuid NOT NULL REFERENCES purchases (id),
  payment_intent_id text NOT NULL UNIQUE,
  stripe_refund_id  text UNIQUE,
  amount_cents      bigint NOT NULL CHECK (amount_cents > 0),
  reason            text NOT NULL CHECK (reason IN ('duplicate_charge', 'purchase_refunded')),
  credits_reversed  bigint NOT NULL DEFAULT 0 CHECK (credits_reversed >= 0),
  created_at        timestamptz NOT NULL DEFAULT now()
);
