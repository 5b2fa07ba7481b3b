-- Project budgets (DESIGN.md §13): a project's own spending cap, planning plus its tasks' settled
-- costs. NULL is "no budget". The project workflow enforces it (it starts no step the budget
-- cannot pay in full) and writes every accepted change here, so the API reads it with the rest of
-- the progress. No CHECK ties it to credits_spent: a row the workflow must write may never be
-- refused, or its activity would retry for ever; the workflow's update validator is the judge.
ALTER TABLE projects
  ADD COLUMN max_credits bigint CHECK (max_credits > 0 AND max_credits <= 1000000000);
