-- Reversals of failed AI actions (issue 15, DESIGN.md §12): `POST /v1/usage/:eventId/reversal`.
-- The money is one ledger operation (`usage-reversal:<userId>:<eventId>`, whose `reverses` is the
-- charge's `usage:<userId>:<eventId>`: the database lets a charge be reversed once). This row
-- keeps what the ledger does not: the user's reason, and the answer a repeated request gets.
-- `credits` went back to the user; `creator_share_reversed` came back from the agent's creator;
-- `creator_shortfall` is the part of the share the creator had already spent (or had held for a
-- withdrawal), which the user is refunded anyway and the platform absorbs.
CREATE TABLE usage_reversals (
  user_id                uuid NOT NULL REFERENCES users (id),
  event_id               text COLLATE "C" NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
  charge_key             text COLLATE "C" NOT NULL UNIQUE REFERENCES ledger_operations (idempotency_key),
  reversal_key           text COLLATE "C" NOT NULL UNIQUE REFERENCES ledger_operations (idempotency_key),
  reason                 text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
  credits                bigint NOT NULL CHECK (credits >= 0),
  creator_share_reversed bigint NOT NULL CHECK (creator_share_reversed >= 0),
  creator_shortfall      bigint NOT NULL CHECK (creator_shortfall >= 0),
  created_at             timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, event_id)
);
CREATE INDEX usage_reversals_user_idx ON usage_reversals (user_id, created_at DESC);

-- A reversal happened once and stays as it was.
CREATE TRIGGER usage_reversals_immutable BEFORE UPDATE OR DELETE ON usage_reversals
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER usage_reversals_no_truncate BEFORE TRUNCATE ON usage_reversals
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
