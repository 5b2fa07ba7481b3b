/**
 * Custom (enterprise) packages (DESIGN.md §12): an operator offers a package to named users (by
 * id, or by email so someone who signs up later sees it too), optionally until `expiresAt` and
 * for at most `maxPurchases` purchases; DELETE archives it. The rules a checkout must pass live
 * here (`openCheckout`), called by app/purchases.ts for the API and the credits page alike.
 *
 * Choices: a package that is not offered to the caller (or does not exist) is 404, so its id
 * tells a stranger nothing; one the caller may see but that is archived, expired or sold out is
 * 409 naming which, so its buyer knows why. Only new checkouts are refused: one started before
 * still completes. A limited package's slot is taken when the checkout starts (its purchase row
 * is written under the package's row lock) and freed when that checkout fails or expires; a paid
 * purchase keeps its slot even when refunded.
 */
import { randomUUID } from 'node:crypto';
import { uuidFromSeed } from '../db/ids';
import { requestHash } from '../db/ledger';
import { findPackageRequest } from '../db/package-requests';
import {
  type AdminPackage,
  archivePackage,
  existingUserIds,
  findAdminPackage,
  insertCustomPackage,
  type PackageOffer,
  reservePurchase,
} from '../db/packages';
import type { Sql } from '../db/pool';
import { findUserById } from '../db/users';
import { Conflict, formatCredits, formatMoney, NotFound, ValidationError } from '../domain';
import type { Mailer } from '../mail/mailer';

export type { AdminPackage, CreditPackage, PackageOffer, PackageStatus } from '../db/packages';

/** The most credits one package may hold: far above any real deal, far below the ledger's limit. */
export const MAX_PACKAGE_CREDITS = 1_000_000_000;
/** Stripe's largest Checkout amount (8 digits of minor units: $999,999.99). */
export const MAX_PACKAGE_PRICE = 99_999_999;
export const MAX_PACKAGE_PURCHASES = 1_000_000;
export const MAX_PACKAGE_VIEWERS = 100;

let currencies: ReadonlySet<string> | undefined;

/**
 * An ISO 4217 code whose exponent domain/money.ts knows: the list it formats with (Intl's), so
 * a package's price never shows as raw minor units on a card, a receipt or Checkout.
 */
export function isSupportedCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return /^[A-Za-z]{3}$/.test(code) && currencies.has(code.toUpperCase());
}

export interface PackageDeps {
  sql: Sql;
  mailer: Mailer;
  log?: ((message: string, error: unknown) => void) | undefined;
}

/** A custom package as the route parsed it: shapes checked, existence not yet. */
export interface CustomPackageInput {
  name: string;
  credits: number;
  priceCents: number;
  /** Lowercase, as Stripe and the catalog write it. */
  currency: string;
  /** Each a user id (UUID) or an email address; 1 to MAX_PACKAGE_VIEWERS of them. */
  visibleTo: string[];
  expiresAt?: string | undefined;
  maxPurchases?: number | undefined;
  /** The contact-sales request this answers: its user is added to `visibleTo` and emailed. */
  requestId?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A `visibleTo` entry naming a user by id (any other entry is an email address). */
export function isUserId(entry: string): boolean {
  return UUID.test(entry);
}

/** The same key names the same package, so a retried POST finds the first instead of making a second. */
function packageId(key: string | undefined): string {
  return `custom-${key ? uuidFromSeed(`admin-package:${key}`) : randomUUID()}`;
}

/**
 * Viewers from `visibleTo`: ids and emails lowercased (emails match lower(users.email)),
 * duplicates dropped; an id that is no user is a ValidationError naming its index.
 */
async function viewersOf(
  sql: Sql,
  visibleTo: string[],
  requesterId: string | null,
): Promise<{ userId: string | null; email: string | null }[]> {
  const entries = visibleTo.map((v) => v.toLowerCase());
  const ids = entries.filter((v) => UUID.test(v));
  const known = await existingUserIds(sql, ids);
  entries.forEach((entry, i) => {
    if (UUID.test(entry) && !known.has(entry))
      throw new ValidationError(`visibleTo.${i}`, 'no user has this id');
  });
  const userIds = new Set(ids);
  if (requesterId) userIds.add(requesterId);
  const emails = new Set(entries.filter((v) => !UUID.test(v)));
  return [
    ...[...userIds].map((userId) => ({ userId, email: null })),
    ...[...emails].map((email) => ({ userId: null, email })),
  ];
}

export interface CreatedPackage {
  /** False for a replay of the same Idempotency-Key. */
  created: boolean;
  package: AdminPackage;
  /** Whether the requester's email is recorded (null when no request was answered). */
  notified: boolean | null;
}

/**
 * Creates a custom package (and answers its contact-sales request) in one transaction, then
 * emails the requester. `creditsPageUrl` is where the email sends them. A replay of the same key
 * and body returns the package and sends the email only if the first attempt did not (the
 * outbox's dedupe key is the request's), so a crash between the two heals on retry.
 */
export async function createCustomPackage(
  deps: PackageDeps,
  request: { input: CustomPackageInput; key: string | undefined; creditsPageUrl: string },
): Promise<CreatedPackage> {
  const { input } = request;
  if (!isSupportedCurrency(input.currency))
    throw new ValidationError('currency', 'must be an ISO 4217 currency code, such as usd or eur');
  const id = packageId(request.key);
  const expiresAt = input.expiresAt ? new Date(input.expiresAt).toISOString() : null;
  const answered = input.requestId ? await findPackageRequest(deps.sql, input.requestId) : null;
  if (input.requestId && !answered) throw new ValidationError('requestId', 'no package request has this id');
  const viewers = await viewersOf(deps.sql, input.visibleTo, answered?.userId ?? null);
  const hash = requestHash('custom-package', {
    name: input.name,
    credits: input.credits,
    priceCents: input.priceCents,
    currency: input.currency,
    viewers: viewers.map((v) => v.userId ?? `email:${v.email}`).sort(),
    expiresAt,
    maxPurchases: input.maxPurchases ?? null,
    requestId: input.requestId ?? null,
  });
  // The request answered by another package: a replay of this one (same id) goes on to the insert,
  // which recognises it by its hash.
  if (answered && answered.status !== 'open' && answered.packageId !== id)
    throw new Conflict(
      `requestId: package request ${answered.id} was already answered by package ${answered.packageId}`,
    );
  const { created } = await insertCustomPackage(deps.sql, {
    id,
    name: input.name,
    credits: input.credits,
    priceCents: input.priceCents,
    currency: input.currency,
    expiresAt,
    maxPurchases: input.maxPurchases ?? null,
    viewers,
    requestId: input.requestId ?? null,
    requestHash: hash,
  });
  const pkg = (await findAdminPackage(deps.sql, id))!;
  const notified = answered ? await notifyRequester(deps, answered.id, pkg, request.creditsPageUrl) : null;
  return { created, package: pkg, notified };
}

/**
 * Tells the requester their package is ready. The package is created whatever happens here: a
 * mail failure is logged and reported (`notified: false`), not turned into an error that would
 * make the operator create it twice.
 */
async function notifyRequester(
  deps: PackageDeps,
  requestId: string,
  pkg: AdminPackage,
  creditsPageUrl: string,
): Promise<boolean> {
  try {
    const request = await findPackageRequest(deps.sql, requestId);
    const user = request ? await findUserById(deps.sql, request.userId) : null;
    if (!request || !user) return false;
    const terms = [
      pkg.expiresAt ? `It can be bought until ${pkg.expiresAt.slice(0, 16).replace('T', ' ')} UTC.` : null,
      pkg.maxPurchases !== null ? `It is limited to ${formatCredits(pkg.maxPurchases)} purchase(s).` : null,
    ].filter((line): line is string => line !== null);
    await deps.mailer.send({
      dedupeKey: `package-ready:${request.id}`,
      userId: user.id,
      kind: 'package_ready',
      recipient: user.email,
      subject: `Your custom package is ready: ${formatCredits(pkg.credits)} credits`,
      body: [
        `You asked us for a package of ${formatCredits(request.credits)} credits.`,
        `Your package "${pkg.name}" is ready: ${formatCredits(pkg.credits)} credits for ${formatMoney(pkg.priceCents, pkg.currency)}.`,
        ...terms,
        `Buy it on your credits page: ${creditsPageUrl}`,
      ].join('\n'),
    });
    return true;
  } catch (error) {
    deps.log?.(`package-ready email for request ${requestId} not recorded`, error);
    return false;
  }
}

/** Archives a package: nobody may start buying it any more; a second archive changes nothing. */
export async function archiveCustomPackage(deps: { sql: Sql }, id: string): Promise<AdminPackage> {
  if (!(await archivePackage(deps.sql, id))) throw new NotFound(`id: no custom package ${id}`);
  return (await findAdminPackage(deps.sql, id))!;
}

/**
 * Lets a new checkout of `pkg` start, or refuses it (409 naming why). A limited package's slot
 * is reserved here by writing the purchase row under the package's lock (db/packages.ts
 * reservePurchase), so two checkouts racing for the last slot make one purchase; an unlimited
 * one needs no reservation and its workflow writes the row as before.
 */
export async function openCheckout(
  sql: Sql,
  pkg: PackageOffer,
  purchase: { id: string; userId: string },
): Promise<void> {
  const status =
    pkg.maxPurchases === null ? pkg.status : await reservePurchase(sql, { ...purchase, packageId: pkg.id });
  switch (status) {
    case 'active':
      return;
    case 'archived':
      throw new Conflict(`packageId: package ${pkg.id} is no longer offered`);
    case 'expired':
      throw new Conflict(
        `packageId: package ${pkg.id} expired at ${pkg.expiresAt}; it can no longer be bought`,
      );
    case 'sold_out':
      throw new Conflict(
        `packageId: package ${pkg.id} is sold out (it can be bought ${pkg.maxPurchases} time(s))`,
      );
  }
}
