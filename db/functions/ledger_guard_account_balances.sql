CREATE OR REPLACE FUNCTION ledger_guard_account_balances() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.posted <> 0 OR NEW.held <> 0 THEN
      RAISE EXCEPTION 'ledger: accounts start at zero; balances change only through transfers';
    END IF;
  ELSIF (NEW.posted IS DISTINCT FROM OLD.posted OR NEW.held IS DISTINCT FROM OLD.held)
        AND pg_trigger_depth() < 2 THEN
    RAISE EXCEPTION 'ledger: balances change only through transfers and holds';
  END IF;
  RETURN NEW;
END $$;
