-- The posting engine (issue 12): account rules are data on the account, an operation is any
-- number of legs under one idempotency key, and every transfer says what caused it.

-- 1. Buckets are data: each one's place in the spending order and whether it can be withdrawn.
--    A user's accounts copy these rules when they are made (db/ledger/accounts.ts); the batch
--    debit and holds both spend in `spend_rank` order, so the order is stated only here.
CREATE TABLE ledger_buckets (
  bucket       text COLLATE "C" PRIMARY KEY,
  spend_rank   smallint NOT NULL UNIQUE CHECK (spend_rank > 0),
  withdrawable boolean NOT NULL,
  UNIQUE (bucket, spend_rank, withdrawable)
);
INSERT INTO ledger_buckets (bucket, spend_rank, withdrawable) VALUES
  ('purchased', 1, false),  -- bought and granted credits: spent first
  ('earned', 2, true);      -- referral rewards and creator earnings: spent last, withdrawable
CREATE TRIGGER ledger_buckets_immutable BEFORE UPDATE OR DELETE ON ledger_buckets
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- 2. Every account carries its rules:
--    allow_negative  may its available balance go below zero (system accounts: the other side
--                    of every user movement), else a CHECK refuses any statement that would;
--    spend_rank      its place in the spending order (NULL: never spent by debits or holds);
--    withdrawable    can its cleared credits be cashed out;
--    system_name     the role of a system account (usage, purchases, ...), of which there may be
--                    several shards: one hot row would serialise every transaction that touches it.
ALTER TABLE accounts
  ADD COLUMN allow_negative boolean NOT NULL DEFAULT false,
  ADD COLUMN spend_rank smallint,
  ADD COLUMN withdrawable boolean NOT NULL DEFAULT false,
  ADD COLUMN system_name text COLLATE "C",
  ADD COLUMN shard smallint NOT NULL DEFAULT 0;
UPDATE accounts SET allow_negative = true, system_name = substr(code, 8) WHERE user_id IS NULL;
UPDATE accounts a SET spend_rank = b.spend_rank, withdrawable = b.withdrawable
FROM ledger_buckets b WHERE b.bucket = a.bucket;
ALTER TABLE accounts
  DROP CONSTRAINT accounts_available_not_negative,
  DROP CONSTRAINT accounts_system_never_holds,
  ADD CONSTRAINT accounts_available_not_negative CHECK (allow_negative OR posted - held >= 0),
  ADD CONSTRAINT accounts_negative_never_holds CHECK (NOT allow_negative OR held = 0),
  -- DESIGN.md §4: a user's account can never go negative, whatever rules it is given.
  ADD CONSTRAINT accounts_users_never_negative CHECK (user_id IS NULL OR NOT allow_negative),
  ADD CONSTRAINT accounts_bucket_rules FOREIGN KEY (bucket, spend_rank, withdrawable)
    REFERENCES ledger_buckets (bucket, spend_rank, withdrawable),
  ADD CONSTRAINT accounts_bucket_has_rules CHECK ((bucket IS NULL) = (spend_rank IS NULL)),
  ADD CONSTRAINT accounts_system_or_user CHECK ((system_name IS NULL) = (user_id IS NOT NULL)),
  ADD CONSTRAINT accounts_shard_range CHECK (shard >= 0 AND shard < 64);
CREATE UNIQUE INDEX accounts_system_shard ON accounts (system_name, shard) WHERE system_name IS NOT NULL;

-- An account's rules never change after it is made.
CREATE TRIGGER accounts_rules_immutable BEFORE UPDATE ON accounts
  FOR EACH ROW WHEN (NEW.allow_negative IS DISTINCT FROM OLD.allow_negative
                     OR NEW.spend_rank IS DISTINCT FROM OLD.spend_rank
                     OR NEW.withdrawable IS DISTINCT FROM OLD.withdrawable
                     OR NEW.system_name IS DISTINCT FROM OLD.system_name
                     OR NEW.shard IS DISTINCT FROM OLD.shard
                     OR NEW.user_id IS DISTINCT FROM OLD.user_id
                     OR NEW.bucket IS DISTINCT FROM OLD.bucket)
  EXECUTE FUNCTION ledger_refuse_change();

-- 64 shards per system account: shard 0 is the account that already exists.
INSERT INTO accounts (code, system_name, shard, allow_negative)
SELECT 'system:' || s.system_name || ':' || n, s.system_name, n, true
FROM accounts s CROSS JOIN generate_series(1, 63) AS n
WHERE s.system_name IS NOT NULL AND s.shard = 0;

-- 3. Transfers say what they belong to: the agent whose use it pays for, and what caused it
--    (a purchase, a project task, a usage event, a withdrawal, a refund...). Credits into a
--    withdrawable account carry when they clear, so "withdrawable" is a query (db/ledger/reads.ts).
ALTER TABLE transfers
  ADD COLUMN agent_id text COLLATE "C" CHECK (length(agent_id) BETWEEN 1 AND 200),
  ADD COLUMN cause_type text COLLATE "C" CHECK (cause_type ~ '^[a-z][a-z_]{0,39}$'),
  ADD COLUMN cause_id text COLLATE "C" CHECK (length(cause_id) BETWEEN 1 AND 255),
  ADD COLUMN clears_at timestamptz,
  ADD CONSTRAINT transfers_cause_whole CHECK ((cause_type IS NULL) = (cause_id IS NULL));
-- No index on them yet: every index is paid on every transfer, and nothing reads by them so far
-- (a reversal finds its transfers by operation key).

-- 4. A reversal names the operation it reverses; each operation is reversed at most once.
ALTER TABLE ledger_operations ADD COLUMN reverses text COLLATE "C" UNIQUE;

-- 5. Holds may be limited to one bucket (a withdrawal holds earned credits only), and carry
--    what their post's transfers will say about themselves.
ALTER TABLE holds
  ADD COLUMN bucket text COLLATE "C" REFERENCES ledger_buckets (bucket),
  ADD COLUMN agent_id text COLLATE "C" CHECK (length(agent_id) BETWEEN 1 AND 200),
  ADD COLUMN cause_type text COLLATE "C" CHECK (cause_type ~ '^[a-z][a-z_]{0,39}$'),
  ADD COLUMN cause_id text COLLATE "C" CHECK (length(cause_id) BETWEEN 1 AND 255),
  ADD CONSTRAINT holds_cause_whole CHECK ((cause_type IS NULL) = (cause_id IS NULL));
