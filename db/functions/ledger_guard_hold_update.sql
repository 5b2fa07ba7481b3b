CREATE OR REPLACE FUNCTION ledger_guard_hold_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'pending' THEN
    RAISE EXCEPTION 'ledger: hold % is already %', OLD.id, OLD.status;
  END IF;
  IF NEW.amount <> OLD.amount OR NEW.user_id <> OLD.user_id OR NEW.credit_account_id <> OLD.credit_account_id THEN
    RAISE EXCEPTION 'ledger: a hold''s amount and accounts are immutable';
  END IF;
  RETURN NEW;
END $$;
