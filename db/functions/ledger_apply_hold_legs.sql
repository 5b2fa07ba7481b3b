CREATE OR REPLACE FUNCTION ledger_apply_hold_legs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE accounts a SET held = a.held + d.amount
  FROM (SELECT account_id, sum(amount) AS amount FROM new_legs GROUP BY account_id) d
  WHERE a.id = d.account_id;
  RETURN NULL;
END $$;
