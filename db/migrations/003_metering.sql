-- Metering (issue 4): versioned rate cards, usage events, low-balance settings, the mail outbox.

-- A rate card is immutable once published; a new price is a new version.
CREATE TABLE rate_cards (
  version      integer PRIMARY KEY CHECK (version > 0),
  card         jsonb NOT NULL,
  note         text,
  published_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER rate_cards_immutable BEFORE UPDATE OR DELETE ON rate_cards
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- Version 1: credits are integers; model multipliers are basis points (10,000 = 1x).
INSERT INTO rate_cards (version, note, card) VALUES (1, 'launch prices', '{
  "conversation": { "baseCredits": 2, "per1kInputTokens": 1, "per1kOutputTokens": 4 },
  "continuation": { "baseCredits": 3, "per1kInputTokens": 1, "per1kOutputTokens": 4 },
  "rag": { "surchargeCredits": 5 },
  "upskilling": { "perTrainingUnit": 20 },
  "projectPlanning": { "credits": 50 },
  "projectTask": { "small": 25, "medium": 75, "large": 200 },
  "models": { "default": "standard", "multipliersBp": { "lite": 5000, "standard": 10000, "advanced": 30000 } }
}');

-- Low balance: a notice when a debit takes the available balance below the threshold
-- (the product page's advice: buy more below 1,000 credits). NULL turns it off.
ALTER TABLE users ADD COLUMN low_balance_threshold bigint DEFAULT 1000
  CHECK (low_balance_threshold IS NULL OR low_balance_threshold >= 0);

-- Every email the system sends. Without SMTP_URL this table is the outbox people read.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  dedupe_key  text NOT NULL UNIQUE,
  user_id     uuid REFERENCES users (id),
  kind        text NOT NULL,
  recipient   text NOT NULL,
  subject     text NOT NULL,
  body        text NOT NULL,
  transport   text NOT NULL CHECK (transport IN ('outbox', 'smtp')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  sent_at     timestamptz
);
CREATE INDEX outbox_user_idx ON outbox (user_id, id DESC);
