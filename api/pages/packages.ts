import { MAX_REQUEST_MESSAGE } from '../../app/package-requests';
import { MAX_PACKAGE_CREDITS } from '../../app/packages';
import type { PackageRequest } from '../../db/package-requests';
import type { CreditPackage } from '../../db/packages';
import { formatCredits, formatMoney } from '../../domain';
import { formatTime } from './format';
import { type Html, html } from './html';

/**
 * The credits page's package cards and its contact-sales section. Stable hooks for tests and
 * scripts: `.package[data-package-id=…] .per-1000`, `form#contact-sales`,
 * `tr.package-request[data-request-id][data-status]`.
 */

export const BUY_PATH = '/usercredits/buy';
export const PACKAGE_REQUEST_PATH = '/usercredits/package-requests';

/** A package's price as the product page writes it: "$50", "$12.50", "¥5,000". */
function price(p: { priceCents: number; currency: string }): string {
  return formatMoney(p.priceCents, p.currency, { trimZeroFraction: true });
}

/** "$11.11 per 1,000 credits": cents kept, so cards of different sizes compare to the cent. */
export function pricePer1000Text(p: Pick<CreditPackage, 'pricePer1000Cents' | 'currency'>): string {
  return `${formatMoney(p.pricePer1000Cents, p.currency)} per 1,000 credits`;
}

export function packageCard(p: CreditPackage, requestId: string): Html {
  return html`<div class="package" data-package-id="${p.id}">
  <div class="name">${p.name}</div>
  <div class="credits">${formatCredits(p.credits)}</div>
  <div class="muted">credits</div>
  <div class="price">${price(p)}</div>
  <div class="muted per-1000">${pricePer1000Text(p)}</div>
  <form method="post" action="${BUY_PATH}">
    <input type="hidden" name="packageId" value="${p.id}">
    <input type="hidden" name="requestId" value="${requestId}">
    <button type="submit" class="primary">Buy</button>
  </form>
</div>`;
}

const REQUEST_STATUS: Record<PackageRequest['status'], { label: string; style: string }> = {
  open: { label: 'Waiting for sales', style: 'pending' },
  answered: { label: 'Package ready', style: 'completed' },
};

/**
 * "Contact sales": a form asking for a package of some size (posted to this site, a fresh
 * `requestId` per render so a double submit is one request) and the user's requests. An
 * answered request names its package by name when it is on the page (still for sale to them).
 */
export function contactSalesSection(
  requests: PackageRequest[],
  requestId: string,
  packageNames: ReadonlyMap<string, string>,
): Html {
  const rows = requests.map((r) => {
    const status = REQUEST_STATUS[r.status];
    const pkg = r.packageId ? (packageNames.get(r.packageId) ?? r.packageId) : null;
    return html`<tr class="package-request" data-request-id="${r.id}" data-status="${r.status}">
  <td>${formatTime(r.createdAt)}</td>
  <td class="num">${formatCredits(r.credits)}</td>
  <td>${r.message ?? ''}</td>
  <td><span class="status ${status.style}">${status.label}</span>${pkg ? html` <span class="muted">${pkg}</span>` : null}</td>
</tr>`;
  });
  return html`<section id="contact-sales-section" aria-labelledby="contact-sales-title">
  <h2 id="contact-sales-title">Need a Bigger Package?</h2>
  <p class="muted">Tell our sales team how many credits you need. When your custom package is ready, it appears above and we email you.</p>
  <form method="post" action="${PACKAGE_REQUEST_PATH}" id="contact-sales">
    <input type="hidden" name="requestId" value="${requestId}">
    <label for="sales-credits">Credits wanted</label>
    <input type="number" id="sales-credits" name="credits" min="1" max="${MAX_PACKAGE_CREDITS}" step="1" required>
    <label for="sales-message">Message (optional)</label>
    <textarea id="sales-message" name="message" maxlength="${MAX_REQUEST_MESSAGE}" rows="3" style="width: 100%; padding: 0.65rem; font: inherit; border: 1px solid #cfd7df; border-radius: 8px; margin-bottom: 0.9rem;"></textarea>
    <button type="submit" class="primary">Contact sales</button>
  </form>
  ${
    rows.length
      ? html`<table><thead><tr><th>Date</th><th class="num">Credits</th><th>Message</th><th>Status</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : null
  }
</section>`;
}
