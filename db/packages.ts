import type { Sql } from './pool';

export interface CreditPackage {
  id: string;
  name: string;
  credits: number;
  priceCents: number;
  currency: string;
}

/** Active packages a user may buy: the public catalog plus custom packages made for them. */
export async function listPackages(sql: Sql, userId: string | null): Promise<CreditPackage[]> {
  return sql<CreditPackage[]>`
    SELECT id, name, credits, price_cents AS "priceCents", currency FROM packages
    WHERE active AND (visible_to_user_id IS NULL OR visible_to_user_id = ${userId})
    ORDER BY sort_order, credits`;
}
