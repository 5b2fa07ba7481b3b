-- "Was this user charged for this agent?" (ratings) reads the payer's transfers for the agent.
-- A creator's share is a second transfer of the same charge, from a system account, which that
-- question never reads: keeping shares out of the index saves one index entry per agent charge
-- on the hot path (bench:usage, "Every event naming another user's agent").
DROP INDEX transfers_agent_debit_idx;
CREATE INDEX transfers_agent_debit_idx ON transfers (agent_id, debit_account_id)
  WHERE agent_id IS NOT NULL AND kind <> 'creator_share';
