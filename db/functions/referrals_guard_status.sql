-- A referral only moves forward (DESIGN.md §11): signed_up → rewarded | rejected, and
-- rewarded → clawed_back. So a reward is decided once and taken back once, whatever retries or
-- races do; callers' updates are conditional too, this is the backstop.
CREATE OR REPLACE FUNCTION referrals_guard_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> OLD.status AND NOT (
       (OLD.status = 'signed_up' AND NEW.status IN ('rewarded', 'rejected'))
    OR (OLD.status = 'rewarded' AND NEW.status = 'clawed_back')) THEN
    RAISE EXCEPTION 'referral %: % -> % is not allowed', OLD.id, OLD.status, NEW.status;
  END IF;
  RETURN NEW;
END $$;
