-- Browser sessions for the credits page (issue 5): a browser signs in once with its API key and
-- then carries a random session token in an HttpOnly cookie. Only the token's SHA-256 is stored,
-- so a leaked table cannot be replayed as cookies.

CREATE TABLE browser_sessions (
  token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  user_id    uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '30 days',
  CHECK (expires_at > created_at)
);
CREATE INDEX browser_sessions_user_idx ON browser_sessions (user_id, expires_at);
