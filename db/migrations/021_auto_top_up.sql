-- Saved cards, the customer portal and auto top-up (issue 16, DESIGN.md §13).

-- The user's Stripe Customer, made with their first Checkout purchase, and the card that paid
-- it, saved for off-session charges (Checkout's setup_future_usage = off_session). No card data
-- beyond what a receipt shows (brand, last four digits) is kept; the card itself stays in Stripe.
CREATE TABLE stripe_customers (
  user_id                uuid PRIMARY KEY REFERENCES users (id),
  customer_id            text NOT NULL UNIQUE CHECK (length(customer_id) BETWEEN 1 AND 255),
  payment_method_id      text CHECK (length(payment_method_id) BETWEEN 1 AND 255),
  card_brand             text CHECK (length(card_brand) BETWEEN 1 AND 40),
  card_last4             text CHECK (card_last4 ~ '^[0-9]{4}$'),
  card_saved_at          timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  CHECK ((payment_method_id IS NULL) = (card_saved_at IS NULL))
);

-- The auto top-up setting, one per user. `state` is suspended after three failed top-ups in a
-- row (suspended_by names the failed purchase that did it, so its one notice is keyed by it);
-- saving the setting again makes it active and starts the count anew from `saved_at`.
CREATE TABLE auto_top_up_settings (
  user_id             uuid PRIMARY KEY REFERENCES users (id),
  enabled             boolean NOT NULL,
  below_credits       bigint NOT NULL CHECK (below_credits >= 0),
  package_id          text NOT NULL REFERENCES packages (id),
  monthly_limit_cents bigint NOT NULL CHECK (monthly_limit_cents > 0),
  state               text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
  suspended_by        uuid,
  saved_at            timestamptz NOT NULL DEFAULT now(),
  CHECK ((state = 'suspended') = (suspended_by IS NOT NULL))
);

-- The threshold the debit path watches, on the user's row so the usage hot path reads it with
-- the user it already has (api/auth.ts caches it): NULL unless auto top-up is enabled and active.
-- Only db/auto-top-up.ts writes it, in the same transaction as the setting.
ALTER TABLE users ADD COLUMN auto_top_up_below bigint CHECK (auto_top_up_below >= 0);

-- An automatic purchase is a purchase like any other (history, receipts, refunds, disputes find
-- it by its payment intent), made by the auto top-up workflow off-session on the saved card.
-- `crossing_key` names the debit that crossed the threshold: one purchase per crossing.
ALTER TABLE purchases
  ADD COLUMN origin text NOT NULL DEFAULT 'checkout' CHECK (origin IN ('checkout', 'auto_top_up')),
  ADD COLUMN crossing_key text CHECK (length(crossing_key) BETWEEN 1 AND 400),
  ADD CONSTRAINT purchases_auto_crossing CHECK ((origin = 'auto_top_up') = (crossing_key IS NOT NULL));
-- This month's automatic spend, and the failures in a row since the setting was saved.
CREATE INDEX purchases_auto_top_up_idx ON purchases (user_id, created_at DESC) WHERE origin = 'auto_top_up';
