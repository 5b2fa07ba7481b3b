CREATE OR REPLACE FUNCTION ledger_release_holds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE accounts a SET held = a.held - d.amount
  FROM (
    SELECT l.account_id, sum(l.amount) AS amount
    FROM new_holds n
    JOIN old_holds o ON o.id = n.id
    JOIN hold_legs l ON l.hold_id = n.id
    WHERE o.status = 'pending' AND n.status <> 'pending'
    GROUP BY l.account_id
  ) d
  WHERE a.id = d.account_id;
  RETURN NULL;
END $$;
