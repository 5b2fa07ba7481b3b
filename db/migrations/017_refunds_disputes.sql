-- Operator refunds and disputes (issue 15, DESIGN.md §12).

-- 1. system:disputes: where the credits of a lost dispute go (and where a long dispute's credits
--    wait, once its hold would outlive the ledger's longest hold). 64 shards, named as migration
--    010 names them: shard 0 is `system:disputes`, the others `system:disputes:<n>`.
INSERT INTO accounts (code, system_name, shard, allow_negative)
SELECT CASE WHEN n = 0 THEN 'system:disputes' ELSE 'system:disputes:' || n END, 'disputes', n, true
FROM generate_series(0, 63) AS n;

-- 2. An operator's refund of a purchase's unused credits. The money is a ledger hold on the
--    user's purchased bucket (taken at the request, posted to system:refunds once Stripe has
--    refunded, voided when Stripe refuses); this row says what was asked, why, and how it ended.
--    It leaves `pending` once (every update in db/refunds.ts is conditional on it).
CREATE TABLE operator_refunds (
  id               uuid PRIMARY KEY,
  purchase_id      uuid NOT NULL REFERENCES purchases (id),
  user_id          uuid NOT NULL REFERENCES users (id),
  credits          bigint NOT NULL CHECK (credits > 0),
  amount_cents     bigint NOT NULL CHECK (amount_cents > 0),
  currency         text COLLATE "C" NOT NULL,
  reason           text COLLATE "C" NOT NULL
                   CHECK (reason IN ('unused', 'technical_issue', 'duplicate', 'other')),
  status           text COLLATE "C" NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'succeeded', 'failed')),
  hold_id          uuid NOT NULL UNIQUE,
  stripe_refund_id text COLLATE "C" UNIQUE,
  -- Why Stripe refused it (shown to the operator).
  failure_reason   text CHECK (length(failure_reason) <= 1000),
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  CHECK ((status = 'pending') = (completed_at IS NULL)),
  CHECK (status <> 'succeeded' OR stripe_refund_id IS NOT NULL),
  CHECK ((status = 'failed') = (failure_reason IS NOT NULL))
);
CREATE INDEX operator_refunds_purchase_idx ON operator_refunds (purchase_id, created_at);
CREATE INDEX operator_refunds_status_idx ON operator_refunds (status, created_at);

-- 3. An operator refund is also a refund step of its payment (purchase_refunds, migration 011),
--    claimed BEFORE Stripe is asked: Stripe then announces the refund with charge.refunded,
--    whose cumulative amount_refunded is the step's refunded_through_cents, so the Dashboard
--    path finds that total already accounted for and takes no credits for it a second time.
--    `in_flight` while Stripe has not answered: other steps of the payment wait for it (a failed
--    refund's step is deleted, and totals above it would otherwise be wrong).
ALTER TABLE purchase_refunds DROP CONSTRAINT purchase_refunds_reason_check;
ALTER TABLE purchase_refunds ADD CONSTRAINT purchase_refunds_reason_check
  CHECK (reason IN ('duplicate_charge', 'purchase_refunded', 'operator_refund'));
ALTER TABLE purchase_refunds ADD COLUMN in_flight boolean NOT NULL DEFAULT false;
ALTER TABLE purchase_refunds ADD CONSTRAINT purchase_refunds_in_flight_check
  CHECK (NOT in_flight OR reason = 'operator_refund');
CREATE UNIQUE INDEX purchase_refunds_one_in_flight ON purchase_refunds (payment_intent_id) WHERE in_flight;

-- 4. Disputes of credited payments (charge.dispute.created / .closed), one row per Stripe dispute,
--    kept in step with its disputeWorkflow. `credits_due` are the disputed amount's share of the
--    purchase's credits; `credits_held` what the user still had of them (the plan of the hold,
--    written before it is taken, so a retried step repeats the same hold); the rest is the
--    shortfall. `escrowed_at`: the hold was posted to system:disputes because the dispute
--    outlived it; a won dispute then credits them back.
CREATE TABLE disputes (
  id                text COLLATE "C" PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
  purchase_id       uuid NOT NULL REFERENCES purchases (id),
  user_id           uuid NOT NULL REFERENCES users (id),
  payment_intent_id text COLLATE "C" NOT NULL,
  amount_cents      bigint NOT NULL CHECK (amount_cents > 0),
  currency          text COLLATE "C" NOT NULL,
  -- Stripe's reason (fraudulent, product_not_received, ...).
  reason            text CHECK (length(reason) <= 200),
  status            text COLLATE "C" NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
  credits_due       bigint NOT NULL CHECK (credits_due >= 0),
  credits_held      bigint CHECK (credits_held >= 0 AND credits_held <= credits_due),
  hold_id           uuid NOT NULL UNIQUE,
  held_at           timestamptz,
  escrowed_at       timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  closed_at         timestamptz,
  CHECK ((status = 'open') = (closed_at IS NULL)),
  CHECK (held_at IS NULL OR credits_held IS NOT NULL),
  CHECK (escrowed_at IS NULL OR held_at IS NOT NULL)
);
CREATE INDEX disputes_purchase_idx ON disputes (purchase_id, created_at);
CREATE INDEX disputes_status_idx ON disputes (status, created_at);
