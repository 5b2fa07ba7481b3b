import type { Tx } from '../pool';

/** One double-entry movement: `amount` leaves the debit account and reaches the credit account. */
export interface NewTransfer {
  operationKey: string;
  debitAccountId: number;
  creditAccountId: number;
  amount: number;
  kind: string;
  description: string | null;
  holdId?: string | null;
}

/** One INSERT for any number of transfers; the statement trigger applies them to the balances. */
export async function insertTransfers(tx: Tx, transfers: NewTransfer[]): Promise<void> {
  if (transfers.length === 0) return;
  await tx`
    INSERT INTO transfers (operation_key, debit_account_id, credit_account_id, amount, kind, description, hold_id)
    SELECT * FROM unnest(
      ${transfers.map((t) => t.operationKey)}::text[],
      ${transfers.map((t) => t.debitAccountId)}::bigint[],
      ${transfers.map((t) => t.creditAccountId)}::bigint[],
      ${transfers.map((t) => t.amount)}::bigint[],
      ${transfers.map((t) => t.kind)}::text[],
      ${transfers.map((t) => t.description)}::text[],
      ${transfers.map((t) => t.holdId ?? null)}::uuid[])`;
}
