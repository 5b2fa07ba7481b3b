import type postgres from 'postgres';
import { Conflict, IdempotencyConflict } from '../domain';
import { answerPackageRequest } from './package-requests';
import type { Sql } from './pool';

/** The pool or a transaction: what the query fragments below are built with. */
type Db = postgres.ISql;

/** A package as buyers see it: the card on the credits page and `GET /v1/packages`. */
export interface CreditPackage {
  id: string;
  name: string;
  credits: number;
  priceCents: number;
  currency: string;
  /**
   * The price of 1,000 credits in the package's minor units, rounded to the nearest one, so
   * packages of different sizes compare at a glance (bigger ones are cheaper per credit).
   */
  pricePer1000Cents: number;
}

/**
 * Why a package can or cannot be bought now. Archived: an operator's DELETE (or an old catalog
 * package deactivated); expired: past `expiresAt`; sold out: every one of `maxPurchases` slots
 * is taken by a pending or paid purchase.
 */
export const PACKAGE_STATUSES = ['active', 'expired', 'sold_out', 'archived'] as const;
export type PackageStatus = (typeof PACKAGE_STATUSES)[number];

/** A package a user may see, with what decides whether a checkout may start. */
export interface PackageOffer extends CreditPackage {
  status: PackageStatus;
  expiresAt: string | null;
  /** Null: unlimited, and no slot needs reserving. */
  maxPurchases: number | null;
}

/** A package as operators see it (`GET /v1/admin/packages`). */
export interface AdminPackage extends PackageOffer {
  custom: boolean;
  /** The user ids and emails it is offered to; null for a catalog package (everyone). */
  visibleTo: string[] | null;
  /** Paid purchases: completed, partially refunded or refunded (each still holds its slot). */
  purchaseCount: number;
  /** Checkouts started and not yet paid, failed or expired (each holds a slot meanwhile). */
  pendingCount: number;
  /** Slots still free; null when unlimited. */
  slotsLeft: number | null;
  /** The contact-sales request this package answered. */
  requestId: string | null;
  createdAt: string;
  archivedAt: string | null;
}

/**
 * The purchases that hold a slot of a limited package: a pending checkout (it may still be paid)
 * and every paid one, refunded or not (the deal was used). A failed or expired checkout frees
 * its slot: nothing was sold, so the next buyer may have it.
 */
function slotsTaken(sql: Db) {
  return sql`(SELECT count(*) FROM purchases pu
    WHERE pu.package_id = p.id AND pu.status NOT IN ('failed', 'expired'))`;
}

/** The package's status; CASE evaluates in order, so unlimited packages never count their purchases. */
function statusOf(sql: Db) {
  return sql`CASE
    WHEN NOT p.active THEN 'archived'
    WHEN p.expires_at <= now() THEN 'expired'
    WHEN p.max_purchases IS NULL THEN 'active'
    WHEN ${slotsTaken(sql)} >= p.max_purchases THEN 'sold_out'
    ELSE 'active' END`;
}

/**
 * Packages this user may see: the public catalog, custom packages naming them by id or by their
 * email (lowercase, as package_viewers stores it), and migration 002's one-user packages.
 */
function visibleTo(sql: Sql, userId: string | null) {
  const catalog = sql`(NOT p.custom AND p.visible_to_user_id IS NULL)`;
  if (userId === null) return catalog;
  return sql`(${catalog} OR p.visible_to_user_id = ${userId} OR EXISTS (
    SELECT 1 FROM package_viewers v WHERE v.package_id = p.id AND (v.user_id = ${userId}
      OR v.email = (SELECT lower(u.email) FROM users u WHERE u.id = ${userId}))))`;
}

/**
 * A buyer's columns. The price per 1,000 credits is rounded half up in exact numeric arithmetic:
 * 5000 × 1000 / 4500 = 1111.1… → 1111 ($11.11).
 */
function offerColumns(sql: Db) {
  return sql`p.id, p.name, p.credits, p.price_cents AS "priceCents", p.currency,
    round(p.price_cents * 1000::numeric / p.credits)::bigint AS "pricePer1000Cents"`;
}

/** Packages a user may buy now: visible to them and active (not archived, expired or sold out). */
export async function listPackages(sql: Sql, userId: string | null): Promise<CreditPackage[]> {
  return sql<CreditPackage[]>`
    SELECT ${offerColumns(sql)} FROM packages p
    WHERE ${visibleTo(sql, userId)} AND ${statusOf(sql)} = 'active'
    ORDER BY p.sort_order, p.credits, p.id`;
}

interface OfferRow extends CreditPackage {
  status: PackageStatus;
  expiresAt: Date | null;
  maxPurchases: number | null;
}

/**
 * One package if this user may see it, whatever its status (the caller tells "not for you",
 * a 404, from "not any more", a 409); null when it does not exist or is not offered to them.
 */
export async function findPackage(sql: Sql, packageId: string, userId: string): Promise<PackageOffer | null> {
  const [row] = await sql<OfferRow[]>`
    SELECT ${offerColumns(sql)}, ${statusOf(sql)} AS status,
           p.expires_at AS "expiresAt", p.max_purchases AS "maxPurchases"
    FROM packages p WHERE p.id = ${packageId} AND ${visibleTo(sql, userId)}`;
  return row ? { ...row, expiresAt: row.expiresAt?.toISOString() ?? null } : null;
}

/**
 * Starts a purchase of a limited package by writing its row (status pending), if a slot is free:
 * under the package's row lock, so concurrent checkouts for the last slot are served one at a
 * time and exactly one of them gets it. Returns the status that decided: `active` when the
 * purchase row is written (or was already, by a racing retry with the same id), else why not.
 * The purchase workflow's own insert (db/purchases.ts) then finds the row and changes nothing.
 */
export async function reservePurchase(
  sql: Sql,
  purchase: { id: string; userId: string; packageId: string },
): Promise<PackageStatus> {
  return sql.begin(async (tx) => {
    const [locked] = await tx`SELECT 1 FROM packages WHERE id = ${purchase.packageId} FOR UPDATE`;
    if (!locked) return 'archived';
    // A racing retry with the same id (a double-submitted form) wrote it first: that is this slot.
    const [mine] = await tx`SELECT 1 FROM purchases WHERE id = ${purchase.id}`;
    if (mine) return 'active';
    // Counted after the lock: the previous holder's purchase row is committed and seen.
    const [row] = await tx<{ status: PackageStatus }[]>`
      SELECT ${statusOf(tx)} AS status FROM packages p WHERE p.id = ${purchase.packageId}`;
    const status = row!.status;
    if (status !== 'active') return status;
    await tx`
      INSERT INTO purchases (id, user_id, package_id, credits, price_cents, currency)
      SELECT ${purchase.id}, ${purchase.userId}, p.id, p.credits, p.price_cents, p.currency
      FROM packages p WHERE p.id = ${purchase.packageId}
      ON CONFLICT (id) DO NOTHING`;
    return status;
  });
}

interface AdminRow {
  id: string;
  name: string;
  credits: number;
  priceCents: number;
  currency: string;
  pricePer1000Cents: number;
  status: PackageStatus;
  expiresAt: Date | null;
  maxPurchases: number | null;
  custom: boolean;
  legacyViewer: string | null;
  viewers: string[];
  purchaseCount: number;
  pendingCount: number;
  slotsTaken: number;
  requestId: string | null;
  createdAt: Date;
  archivedAt: Date | null;
}

function toAdminPackage(r: AdminRow): AdminPackage {
  const visible = r.legacyViewer ? [r.legacyViewer, ...r.viewers] : r.viewers;
  return {
    id: r.id,
    name: r.name,
    credits: r.credits,
    priceCents: r.priceCents,
    currency: r.currency,
    pricePer1000Cents: r.pricePer1000Cents,
    status: r.status,
    custom: r.custom,
    visibleTo: r.custom || r.legacyViewer ? visible : null,
    expiresAt: r.expiresAt?.toISOString() ?? null,
    maxPurchases: r.maxPurchases,
    purchaseCount: r.purchaseCount,
    pendingCount: r.pendingCount,
    slotsLeft: r.maxPurchases === null ? null : Math.max(0, r.maxPurchases - r.slotsTaken),
    requestId: r.requestId,
    createdAt: r.createdAt.toISOString(),
    archivedAt: r.archivedAt?.toISOString() ?? null,
  };
}

function adminSelect(sql: Db) {
  return sql`
    SELECT ${offerColumns(sql)}, ${statusOf(sql)} AS status,
           p.expires_at AS "expiresAt", p.max_purchases AS "maxPurchases", p.custom,
           p.visible_to_user_id::text AS "legacyViewer",
           ARRAY(SELECT coalesce(v.user_id::text, v.email) FROM package_viewers v
                 WHERE v.package_id = p.id ORDER BY v.email NULLS FIRST, v.user_id) AS viewers,
           c.paid AS "purchaseCount", c.pending AS "pendingCount", c.paid + c.pending AS "slotsTaken",
           r.id AS "requestId", p.created_at AS "createdAt", p.archived_at AS "archivedAt"
    FROM packages p
    CROSS JOIN LATERAL (
      SELECT count(*) FILTER (WHERE pu.status NOT IN ('pending', 'failed', 'expired'))::int AS paid,
             count(*) FILTER (WHERE pu.status = 'pending')::int AS pending
      FROM purchases pu WHERE pu.package_id = p.id) c
    LEFT JOIN package_requests r ON r.package_id = p.id`;
}

/** Every package, newest first, with its purchase counts; optionally only those of one status. */
export async function listAdminPackages(
  sql: Sql,
  options: { status?: PackageStatus | undefined; limit: number },
): Promise<AdminPackage[]> {
  const rows = await sql<AdminRow[]>`
    SELECT * FROM (${adminSelect(sql)}) x
    ${options.status ? sql`WHERE x.status = ${options.status}` : sql``}
    ORDER BY x."createdAt" DESC, x.id LIMIT ${options.limit}`;
  return rows.map(toAdminPackage);
}

export async function findAdminPackage(sql: Sql, id: string): Promise<AdminPackage | null> {
  const [row] = await sql<AdminRow[]>`${adminSelect(sql)} WHERE p.id = ${id}`;
  return row ? toAdminPackage(row) : null;
}

/** A custom package as the operator asked for it; viewers are user ids or lowercase emails. */
export interface NewCustomPackage {
  id: string;
  name: string;
  credits: number;
  priceCents: number;
  currency: string;
  expiresAt: string | null;
  maxPurchases: number | null;
  viewers: { userId: string | null; email: string | null }[];
  /** The contact-sales request it answers, moved to `answered` in the same transaction. */
  requestId: string | null;
  /** Tells a replay of the same Idempotency-Key (same hash) from a conflicting reuse. */
  requestHash: string;
}

/** After the catalog (sort_order 1–3), so a custom offer is shown beside, not before, the usual cards. */
const CUSTOM_SORT_ORDER = 100;

/**
 * Creates the package, its viewers and the request's answer in one transaction: all or nothing.
 * `created` is false when a package with this id exists with the same request hash (a replay);
 * another hash is an IdempotencyConflict. A request answered meanwhile is a Conflict.
 */
export async function insertCustomPackage(sql: Sql, p: NewCustomPackage): Promise<{ created: boolean }> {
  return sql.begin(async (tx) => {
    const inserted = await tx`
      INSERT INTO packages (id, name, credits, price_cents, currency, custom, expires_at, max_purchases,
                            request_hash, sort_order)
      VALUES (${p.id}, ${p.name}, ${p.credits}, ${p.priceCents}, ${p.currency}, true, ${p.expiresAt},
              ${p.maxPurchases}, ${p.requestHash}, ${CUSTOM_SORT_ORDER})
      ON CONFLICT (id) DO NOTHING RETURNING id`;
    if (inserted.length === 0) {
      const [existing] = await tx<{ request_hash: string | null }[]>`
        SELECT request_hash FROM packages WHERE id = ${p.id}`;
      if (existing?.request_hash !== p.requestHash) throw new IdempotencyConflict(`package ${p.id}`);
      return { created: false };
    }
    const viewers = p.viewers.map((v) => ({ package_id: p.id, user_id: v.userId, email: v.email }));
    await tx`INSERT INTO package_viewers ${tx(viewers, 'package_id', 'user_id', 'email')}`;
    if (p.requestId && !(await answerPackageRequest(tx, p.requestId, p.id))) {
      throw new Conflict(`requestId: package request ${p.requestId} was answered meanwhile`);
    }
    return { created: true };
  });
}

/** Archives a package (no new checkouts, hidden from buyers); archiving again changes nothing. */
export async function archivePackage(sql: Sql, id: string): Promise<boolean> {
  // Custom packages only: the catalog's (starter…) are the product's, and no route brings one back.
  const rows = await sql`
    UPDATE packages SET active = false, archived_at = coalesce(archived_at, now())
    WHERE id = ${id} AND custom RETURNING id`;
  return rows.length === 1;
}

/** Which of `ids` are users (lowercase UUIDs). */
export async function existingUserIds(sql: Sql, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await sql<{ id: string }[]>`SELECT id::text FROM users WHERE id = ANY(${ids}::uuid[])`;
  return new Set(rows.map((r) => r.id));
}
