CREATE OR REPLACE FUNCTION agents_refuse_creator_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'agents: the creator of agent % cannot change (earnings are paid to it)', OLD.id;
END $$;
