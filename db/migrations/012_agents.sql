-- Agents and ratings (issue 14, DESIGN.md §11): creators publish agents, users who were charged
-- for an agent rate it, and the project planner picks agents for tasks that name none.

-- Every agent is published when it is made (there are no drafts or archived agents yet).
-- Its stars are kept as a count and a total, written in the same transaction as the rating that
-- changes them (db/agents.ts rateAgent, under the agent's row lock), so listing agents best rated
-- first reads no ratings. `rating` is the mean, rounded half away from zero to 2 decimals: the
-- number the API shows and sorts by.
CREATE TABLE agents (
  id            uuid PRIMARY KEY,
  creator_id    uuid NOT NULL REFERENCES users (id),
  name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description   text CHECK (length(description) BETWEEN 1 AND 2000),
  ratings_count integer NOT NULL DEFAULT 0 CHECK (ratings_count >= 0),
  stars_total   bigint NOT NULL DEFAULT 0,
  rating        numeric(3, 2) GENERATED ALWAYS AS (
                  CASE WHEN ratings_count > 0 THEN round(stars_total::numeric / ratings_count, 2) END) STORED,
  -- A retried POST /v1/agents with the same Idempotency-Key must carry the same request.
  request_hash  text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK (stars_total BETWEEN ratings_count AND 5 * ratings_count)
);
-- GET /v1/agents: best rated first (unrated last), then more ratings, then older, then id. Every
-- key ascending, so a page's cursor is one row comparison on this index.
CREATE INDEX agents_best_rated_idx ON agents ((COALESCE(-rating, 1)), (-ratings_count), created_at, id);
CREATE INDEX agents_creator_idx ON agents (creator_id, created_at);
-- Earnings are paid to the creator an agent had when it was charged: a creator never changes.
CREATE TRIGGER agents_creator_immutable BEFORE UPDATE ON agents FOR EACH ROW
  WHEN (NEW.creator_id IS DISTINCT FROM OLD.creator_id)
  EXECUTE FUNCTION agents_refuse_creator_change();

-- One rating per user and agent: the primary key is what makes a second rating a replacement,
-- even when two arrive at once.
CREATE TABLE agent_ratings (
  agent_id   uuid NOT NULL REFERENCES agents (id),
  user_id    uuid NOT NULL REFERENCES users (id),
  stars      smallint NOT NULL CHECK (stars BETWEEN 1 AND 5),
  comment    text CHECK (length(comment) BETWEEN 1 AND 2000),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent_id, user_id)
);

-- The agent that ran (or will run) each project task: named by the runner or chosen by the
-- planner when the task list is saved. Tasks saved before this migration have none.
ALTER TABLE project_tasks ADD COLUMN agent_id uuid REFERENCES agents (id);

-- "Was this user ever charged for this agent?" (a rating needs it). Partial: only transfers that
-- name an agent pay for the index (migration 010 left these columns unindexed on purpose).
CREATE INDEX transfers_agent_debit_idx ON transfers (agent_id, debit_account_id) WHERE agent_id IS NOT NULL;
