-- Credit packages as data (the product page's catalog). Operators may add custom packages
-- visible to one user (visible_to_user_id), and deactivate old ones instead of deleting them.
CREATE TABLE packages (
  id                 text PRIMARY KEY CHECK (id ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  name               text NOT NULL,
  credits            bigint NOT NULL CHECK (credits > 0),
  price_cents        bigint NOT NULL CHECK (price_cents > 0),
  currency           text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  active             boolean NOT NULL DEFAULT true,
  visible_to_user_id uuid REFERENCES users (id),
  sort_order         integer NOT NULL DEFAULT 0,
  created_at         timestamptz NOT NULL DEFAULT now()
);

INSERT INTO packages (id, name, credits, price_cents, currency, sort_order) VALUES
  ('starter', 'Starter Package', 4500, 5000, 'usd', 1),
  ('professional', 'Professional', 10000, 10000, 'usd', 2),
  ('club-800', '800 Club', 100000, 80000, 'usd', 3);
