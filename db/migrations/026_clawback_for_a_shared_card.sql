-- A reward is also taken back, before it clears, when the referrer later pays with the card that
-- paid the referee's rewarding purchase (app/referrals.ts): the two share a card, which would have
-- rejected the referral had the referrer's payment come first (DESIGN.md §11).
ALTER TABLE referrals DROP CONSTRAINT referrals_clawback_reason_check,
  ADD CONSTRAINT referrals_clawback_reason_check
    CHECK (clawback_reason IN ('refunded', 'disputed', 'same_card'));
