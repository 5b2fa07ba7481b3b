-- A retried POST /v1/projects with the same Idempotency-Key must carry the same request; the
-- hash of the first one is kept to tell a retry from a conflicting reuse of the key.
ALTER TABLE projects ADD COLUMN request_hash text;
