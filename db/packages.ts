import type { Sql } from './pool';

export interface CreditPackage {
  id: string;
  name: string;
  credits: number;
  priceCents: number;
  currency: string;
}

/** A package this user may buy: active, and public or made for them. */
function buyableBy(sql: Sql, userId: string | null) {
  return sql`active AND (visible_to_user_id IS NULL OR visible_to_user_id = ${userId})`;
}

/** Active packages a user may buy: the public catalog plus custom packages made for them. */
export async function listPackages(sql: Sql, userId: string | null): Promise<CreditPackage[]> {
  return sql<CreditPackage[]>`
    SELECT id, name, credits, price_cents AS "priceCents", currency FROM packages
    WHERE ${buyableBy(sql, userId)} ORDER BY sort_order, credits`;
}

/** One package, if this user may buy it. */
export async function findPackage(
  sql: Sql,
  packageId: string,
  userId: string,
): Promise<CreditPackage | null> {
  const [row] = await sql<CreditPackage[]>`
    SELECT id, name, credits, price_cents AS "priceCents", currency FROM packages
    WHERE id = ${packageId} AND ${buyableBy(sql, userId)}`;
  return row ?? null;
}
