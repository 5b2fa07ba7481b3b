-- Referrals (issue 14, DESIGN.md §11). One row per referred sign-up; the referee's first
-- credited purchase decides it once (rewarded or rejected with a reason), and a refund of that
-- purchase before the reward clears takes the reward back once (clawed_back).
--
--   purchase_id          the referee's first purchase, which decided the referral (NULL until then,
--                        and for a referral rejected at sign-up)
--   decided_at           when it was decided; the monthly cap counts rewards by this month (UTC)
--   reward_credits       the reward granted (0 unless rewarded); with reward_clear_seconds, the
--                        whole ledger request, so a retry (or a clawback finishing it) repeats it exactly
--   rewarded_at          set once the reward's ledger credit is made (status becomes rewarded)
--   clawback_reason      set when a clawback is claimed; clawback_credits is what it plans to take
--                        (at most the reward, lowered to what the referrer's earned bucket still has)
--   clawed_back_credits  what the clawback's ledger operation took; the rest is the shortfall
CREATE TABLE referrals (
  id                   uuid PRIMARY KEY,
  referrer_id          uuid NOT NULL REFERENCES users (id),
  referee_id           uuid NOT NULL UNIQUE REFERENCES users (id),
  status               text NOT NULL DEFAULT 'signed_up'
                       CHECK (status IN ('signed_up', 'rewarded', 'rejected', 'clawed_back')),
  reason               text CHECK (reason IN ('same_person', 'same_card', 'monthly_cap')),
  purchase_id          uuid UNIQUE REFERENCES purchases (id),
  decided_at           timestamptz,
  reward_credits       bigint NOT NULL DEFAULT 0 CHECK (reward_credits >= 0),
  reward_clear_seconds integer CHECK (reward_clear_seconds >= 0),
  rewarded_at          timestamptz,
  clawback_reason      text CHECK (clawback_reason IN ('refunded', 'disputed')),
  clawback_credits     bigint CHECK (clawback_credits >= 0),
  clawed_back_credits  bigint CHECK (clawed_back_credits >= 0),
  clawed_back_at       timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  CHECK (referrer_id <> referee_id),
  CHECK ((status = 'rejected') = (reason IS NOT NULL)),
  CHECK (status = 'signed_up' OR decided_at IS NOT NULL),
  CHECK (status NOT IN ('rewarded', 'clawed_back') OR rewarded_at IS NOT NULL),
  CHECK ((status = 'clawed_back') = (clawed_back_at IS NOT NULL)),
  CHECK (clawback_credits <= reward_credits AND clawed_back_credits <= reward_credits),
  CHECK (reward_credits = 0 OR reward_clear_seconds IS NOT NULL)
);
-- GET /v1/referrals: a referrer's referrals, newest first.
CREATE INDEX referrals_referrer_idx ON referrals (referrer_id, created_at DESC);
-- The monthly cap: a referrer's granted rewards by month.
CREATE INDEX referrals_referrer_rewards_idx ON referrals (referrer_id, decided_at) WHERE reward_credits > 0;

-- referrals_guard_status: see db/functions/referrals_guard_status.sql (re-applied by every migrate).
CREATE TRIGGER referrals_status BEFORE UPDATE ON referrals
  FOR EACH ROW EXECUTE FUNCTION referrals_guard_status();

-- Sign-ups made with a code before this migration were recorded only as users.referred_by.
INSERT INTO referrals (id, referrer_id, referee_id, created_at)
SELECT gen_random_uuid(), referred_by, id, created_at FROM users
WHERE referred_by IS NOT NULL AND referred_by <> id;

-- The paying card of each credited purchase (Stripe's payment_method_details.card.fingerprint),
-- so a referee paying with a card the referrer has paid with is recognised (NULL: not a card,
-- or paid before this migration).
ALTER TABLE purchases ADD COLUMN card_fingerprint text CHECK (length(card_fingerprint) BETWEEN 1 AND 255);
CREATE INDEX purchases_card_fingerprint_idx ON purchases (user_id, card_fingerprint)
  WHERE card_fingerprint IS NOT NULL;
