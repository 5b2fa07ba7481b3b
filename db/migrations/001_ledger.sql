-- The ledger (DESIGN.md §4). The database, not the callers, enforces its rules:
--  * balances change only through transfers and holds (triggers; a direct UPDATE is refused),
--  * a user account never has available = posted - held below zero (CHECK),
--  * transfers are immutable (UPDATE/DELETE/TRUNCATE refused),
--  * every transfer is double entry by construction: one amount, one debit and one credit account,
--    so the sum of `posted` over all accounts is always zero.

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  email         text NOT NULL,
  api_key_hash  text NOT NULL UNIQUE,
  referral_code text NOT NULL UNIQUE,
  referred_by   uuid REFERENCES users (id),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

CREATE TABLE accounts (
  id      bigserial PRIMARY KEY,
  code    text NOT NULL UNIQUE,
  user_id uuid REFERENCES users (id),
  bucket  text CHECK (bucket IN ('purchased', 'earned')),
  posted  bigint NOT NULL DEFAULT 0,
  held    bigint NOT NULL DEFAULT 0,
  CONSTRAINT accounts_held_not_negative CHECK (held >= 0),
  CONSTRAINT accounts_user_has_bucket CHECK ((user_id IS NULL) = (bucket IS NULL)),
  CONSTRAINT accounts_system_never_holds CHECK (user_id IS NOT NULL OR held = 0),
  CONSTRAINT accounts_available_not_negative CHECK (user_id IS NULL OR posted - held >= 0),
  UNIQUE (user_id, bucket)
);

-- One row per idempotent ledger write: the same key and request return `result` again.
CREATE TABLE ledger_operations (
  idempotency_key text PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  kind            text NOT NULL,
  request_hash    text NOT NULL,
  result          jsonb NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transfers (
  id                bigserial PRIMARY KEY,
  operation_key     text NOT NULL REFERENCES ledger_operations (idempotency_key),
  debit_account_id  bigint NOT NULL REFERENCES accounts (id),
  credit_account_id bigint NOT NULL REFERENCES accounts (id),
  amount            bigint NOT NULL CHECK (amount > 0),
  kind              text NOT NULL,
  description       text,
  hold_id           uuid,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (debit_account_id <> credit_account_id)
);
CREATE INDEX transfers_debit_idx ON transfers (debit_account_id, id DESC);
CREATE INDEX transfers_credit_idx ON transfers (credit_account_id, id DESC);

-- Two-phase reservations. A hold reserves credits on one or two of the user's buckets (legs).
CREATE TABLE holds (
  id                uuid PRIMARY KEY,
  operation_key     text NOT NULL REFERENCES ledger_operations (idempotency_key),
  user_id           uuid NOT NULL REFERENCES users (id),
  credit_account_id bigint NOT NULL REFERENCES accounts (id),
  amount            bigint NOT NULL CHECK (amount > 0),
  posted_amount     bigint CHECK (posted_amount >= 0 AND posted_amount <= amount),
  status            text NOT NULL CHECK (status IN ('pending', 'posted', 'voided', 'expired')),
  kind              text NOT NULL,
  description       text,
  expires_at        timestamptz NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  resolved_at       timestamptz,
  CHECK ((status = 'pending') = (resolved_at IS NULL)),
  CHECK ((status = 'posted') = (posted_amount IS NOT NULL))
);
CREATE INDEX holds_pending_expiry_idx ON holds (expires_at) WHERE status = 'pending';

CREATE TABLE hold_legs (
  hold_id    uuid NOT NULL REFERENCES holds (id),
  account_id bigint NOT NULL REFERENCES accounts (id),
  amount     bigint NOT NULL CHECK (amount > 0),
  PRIMARY KEY (hold_id, account_id)
);

-- Balances move only from inside the ledger's own triggers (trigger depth >= 2 there).
-- ledger_guard_account_balances: see db/functions/ledger_guard_account_balances.sql (re-applied by every migrate).
CREATE TRIGGER accounts_guard_balances BEFORE INSERT OR UPDATE ON accounts
  FOR EACH ROW EXECUTE FUNCTION ledger_guard_account_balances();

-- ledger_refuse_change: see db/functions/ledger_refuse_change.sql (re-applied by every migrate).
CREATE TRIGGER transfers_immutable BEFORE UPDATE OR DELETE ON transfers
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER transfers_no_truncate BEFORE TRUNCATE ON transfers
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER hold_legs_immutable BEFORE UPDATE OR DELETE ON hold_legs
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- One statement per batch of transfers: per-account amounts are summed, each account row updated once.
-- ledger_apply_transfers: see db/functions/ledger_apply_transfers.sql (re-applied by every migrate).
CREATE TRIGGER transfers_apply AFTER INSERT ON transfers
  REFERENCING NEW TABLE AS new_transfers
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_transfers();

-- ledger_apply_hold_legs: see db/functions/ledger_apply_hold_legs.sql (re-applied by every migrate).
CREATE TRIGGER hold_legs_apply AFTER INSERT ON hold_legs
  REFERENCING NEW TABLE AS new_legs
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_hold_legs();

-- A hold leaves `pending` once; leaving it releases everything it held.
-- ledger_guard_hold_update: see db/functions/ledger_guard_hold_update.sql (re-applied by every migrate).
CREATE TRIGGER holds_guard_update BEFORE UPDATE ON holds
  FOR EACH ROW EXECUTE FUNCTION ledger_guard_hold_update();
CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- ledger_release_holds: see db/functions/ledger_release_holds.sql (re-applied by every migrate).
CREATE TRIGGER holds_release AFTER UPDATE ON holds
  REFERENCING OLD TABLE AS old_holds NEW TABLE AS new_holds
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_release_holds();

INSERT INTO accounts (code) VALUES
  ('system:purchases'), ('system:usage'), ('system:grants'), ('system:referral_rewards'),
  ('system:creator_earnings'), ('system:refunds'), ('system:withdrawals');
