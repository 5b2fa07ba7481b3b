-- The transfers of one operation, found without reading the whole table: a reversal (of a usage
-- charge, by its owner's request) mirrors every transfer of the operation it reverses, and a scan
-- per reversal would let one user's reversals slow everyone's charges as the ledger grows.
CREATE INDEX transfers_operation_idx ON transfers (operation_key);
