-- MultiTask projects (issue 6): progress lives here so the API reads it without asking Temporal.

CREATE TABLE projects (
  id                uuid PRIMARY KEY,
  user_id           uuid NOT NULL REFERENCES users (id),
  name              text NOT NULL,
  prompt            text,
  status            text NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'paused', 'completed', 'cancelled', 'failed')),
  paused_reason     jsonb,
  failure_reason    text,
  rate_card_version integer NOT NULL REFERENCES rate_cards (version),
  tasks_total       integer NOT NULL DEFAULT 0 CHECK (tasks_total >= 0),
  tasks_completed   integer NOT NULL DEFAULT 0 CHECK (tasks_completed >= 0 AND tasks_completed <= tasks_total),
  credits_spent     bigint NOT NULL DEFAULT 0 CHECK (credits_spent >= 0),
  credits_reserved  bigint NOT NULL DEFAULT 0 CHECK (credits_reserved >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'paused') = (paused_reason IS NOT NULL))
);
CREATE INDEX projects_user_idx ON projects (user_id, created_at DESC);
CREATE INDEX projects_paused_idx ON projects (user_id) WHERE status = 'paused';

CREATE TABLE project_tasks (
  project_id   uuid NOT NULL REFERENCES projects (id),
  position     integer NOT NULL CHECK (position >= 0),
  title        text NOT NULL,
  size         text NOT NULL CHECK (size IN ('small', 'medium', 'large')),
  estimate     bigint NOT NULL CHECK (estimate > 0),
  status       text NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
  cost         bigint CHECK (cost >= 0 AND cost <= estimate),
  hold_id      uuid,
  output       text,
  completed_at timestamptz,
  PRIMARY KEY (project_id, position),
  CHECK ((status = 'completed') = (cost IS NOT NULL))
);
