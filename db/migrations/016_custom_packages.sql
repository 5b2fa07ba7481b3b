-- Custom (enterprise) packages and contact sales (issue 15, DESIGN.md §12).

-- A custom package (custom = true) is offered only to the users its package_viewers rows name;
-- a catalog package (custom = false and no visible_to_user_id, migration 002's one-user form)
-- to everyone. `expires_at` and `max_purchases` stop new checkouts (a started one may still
-- complete); an operator's DELETE archives: active = false and archived_at set, never a delete,
-- because purchases reference the row. `request_hash` recognises an Idempotency-Key replay.
ALTER TABLE packages
  ADD COLUMN custom        boolean NOT NULL DEFAULT false,
  ADD COLUMN expires_at    timestamptz,
  ADD COLUMN max_purchases integer CHECK (max_purchases > 0),
  ADD COLUMN archived_at   timestamptz,
  ADD COLUMN request_hash  text;

-- Who may see a custom package: a user by id, or an email address (stored lowercase, matched
-- against lower(users.email)), so someone who signs up later with that address sees it too.
CREATE TABLE package_viewers (
  package_id text NOT NULL REFERENCES packages (id),
  user_id    uuid REFERENCES users (id),
  email      text CHECK (email = lower(email)),
  CHECK ((user_id IS NULL) <> (email IS NULL))
);
CREATE UNIQUE INDEX package_viewers_user_key ON package_viewers (package_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX package_viewers_email_key ON package_viewers (package_id, email) WHERE email IS NOT NULL;

-- A limited package counts its taken slots (pending and paid purchases) under the package's row
-- lock when a checkout starts; the operator's list counts purchases by status.
CREATE INDEX purchases_package_idx ON purchases (package_id, status);

-- Contact sales: a user asks for a package of `credits`; an operator answers by creating a
-- custom package with the request's id (package_id), which emails the user.
CREATE TABLE package_requests (
  id           uuid PRIMARY KEY,
  user_id      uuid NOT NULL REFERENCES users (id),
  credits      bigint NOT NULL CHECK (credits > 0),
  message      text,
  status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered')),
  package_id   text UNIQUE REFERENCES packages (id),
  request_hash text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  answered_at  timestamptz,
  CHECK ((status = 'answered') = (package_id IS NOT NULL)),
  CHECK ((status = 'answered') = (answered_at IS NOT NULL))
);
CREATE INDEX package_requests_user_idx ON package_requests (user_id, created_at DESC);
CREATE INDEX package_requests_status_idx ON package_requests (status, created_at DESC);
