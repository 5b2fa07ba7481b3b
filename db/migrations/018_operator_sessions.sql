-- Operator sessions for the /admin page (issue 15): an operator signs in once with the operator
-- key and then carries a random token in an HttpOnly cookie, as users do on the credits page.
-- Only the token's SHA-256 is stored. Shorter-lived than a user's session: it can move money.
CREATE TABLE operator_sessions (
  token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL DEFAULT now() + interval '12 hours',
  CHECK (expires_at > created_at)
);
CREATE INDEX operator_sessions_expiry_idx ON operator_sessions (expires_at);
