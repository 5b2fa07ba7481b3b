-- Withholdings: credits of a withdrawable account (an earned bucket) that may be spent but never
-- cashed out. A referral reward taken back short (spent before its purchase was refunded or
-- disputed) leaves its shortfall withheld from the referrer's withdrawable credits: otherwise
-- the credits that come back later (a reversal of the usage that spent the reward) would be
-- cashed out as a reward nobody paid for. One row per ledger operation, written by the ledger only
-- (db/ledger/withholdings.ts), never changed: a withholding (amount > 0), or the release of one
-- (its amount negated, `releases` naming it, at most once: a won dispute releases what its
-- clawback withheld). ledger_account_withdrawable subtracts the account's sum.
CREATE TABLE withholdings (
  operation_key text COLLATE "C" PRIMARY KEY REFERENCES ledger_operations (idempotency_key),
  account_id    bigint NOT NULL REFERENCES accounts (id),
  amount        bigint NOT NULL,
  releases      text COLLATE "C" UNIQUE REFERENCES withholdings (operation_key),
  kind          text NOT NULL CHECK (kind ~ '^[a-z][a-z_]*$' AND length(kind) <= 40),
  cause_type    text COLLATE "C" CHECK (cause_type ~ '^[a-z][a-z_]*$' AND length(cause_type) <= 40),
  cause_id      text COLLATE "C" CHECK (length(cause_id) BETWEEN 1 AND 255),
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((cause_type IS NULL) = (cause_id IS NULL)),
  CHECK ((releases IS NULL AND amount > 0) OR (releases IS NOT NULL AND amount < 0))
);
CREATE INDEX withholdings_account_idx ON withholdings (account_id);
CREATE TRIGGER withholdings_immutable BEFORE UPDATE OR DELETE ON withholdings
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER withholdings_no_truncate BEFORE TRUNCATE ON withholdings
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
