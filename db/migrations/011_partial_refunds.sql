-- Partial refunds (issue 12, DESIGN.md §12): a refund made in Stripe takes back credits in
-- proportion to the newly refunded amount, and a charge can be refunded several times in part.

-- A purchase part refunded is `partially_refunded`; refunded in full, `refunded`. Both were paid.
-- (The allowed moves are in db/functions/purchases_guard_status.sql.)
ALTER TABLE purchases DROP CONSTRAINT purchases_status_check;
ALTER TABLE purchases ADD CONSTRAINT purchases_status_check CHECK (
  status IN ('pending', 'completed', 'failed', 'expired', 'partially_refunded', 'refunded'));
ALTER TABLE purchases DROP CONSTRAINT purchases_check;
ALTER TABLE purchases ADD CONSTRAINT purchases_paid_check CHECK (
  (status IN ('completed', 'partially_refunded', 'refunded')) = (completed_at IS NOT NULL));

-- One row per refund of a payment, no longer one per payment: each row is the step from the
-- amount refunded before it to `refunded_through_cents` (Stripe's cumulative
-- charge.amount_refunded), so a redelivered or out-of-order charge.refunded finds its row.
-- `credits_due` is what the step calls back; `credits_reversed` what the user still had
-- (the difference is the shortfall: credits already spent cannot be taken back).
ALTER TABLE purchase_refunds DROP CONSTRAINT purchase_refunds_payment_intent_id_key;
ALTER TABLE purchase_refunds ADD COLUMN refunded_through_cents bigint;
ALTER TABLE purchase_refunds ADD COLUMN credits_due bigint NOT NULL DEFAULT 0 CHECK (credits_due >= 0);
-- Rows before this migration each refunded a whole payment (and a purchase refund called back
-- all of its credits).
UPDATE purchase_refunds SET refunded_through_cents = amount_cents;
UPDATE purchase_refunds r SET credits_due = p.credits
  FROM purchases p WHERE p.id = r.purchase_id AND r.reason = 'purchase_refunded';
ALTER TABLE purchase_refunds ALTER COLUMN refunded_through_cents SET NOT NULL;
ALTER TABLE purchase_refunds ADD CONSTRAINT purchase_refunds_step_key
  UNIQUE (payment_intent_id, refunded_through_cents);
ALTER TABLE purchase_refunds ADD CONSTRAINT purchase_refunds_step_check
  CHECK (refunded_through_cents >= amount_cents AND credits_reversed <= credits_due);
CREATE INDEX purchase_refunds_purchase_idx ON purchase_refunds (purchase_id, created_at);
