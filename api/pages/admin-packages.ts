import type { PackageRequest } from '../../db/package-requests';
import type { AdminPackage } from '../../db/packages';
import { formatCredits, formatMoney } from '../../domain';
import { formatTime } from './format';
import { type Html, html } from './html';

/**
 * The operator page's sales sections (DESIGN.md §12): open package requests, each answered by a
 * form that creates a custom package for that user, and the custom packages with archive.
 * Hooks: `#package-requests`, `tr.package-request[data-request-id]`, `form.answer-request`,
 * `#custom-packages`, `tr.custom-package[data-package-id][data-status]`, `form.archive-package`.
 */

export const answerRequestPath = (id: string) => `/admin/package-requests/${id}/answer`;
export const archivePackagePath = (id: string) => `/admin/packages/${encodeURIComponent(id)}/archive`;

export function packageRequestsSection(requests: PackageRequest[]): Html {
  const rows = requests.map(
    (r) => html`<tr class="package-request" data-request-id="${r.id}">
  <td>${formatTime(r.createdAt)}</td><td>${r.email}</td><td class="num">${formatCredits(r.credits)}</td>
  <td>${r.message ?? ''}</td>
  <td>
    <form method="post" action="${answerRequestPath(r.id)}" class="answer-request">
      <label for="name-${r.id}">Package name</label>
      <input type="text" id="name-${r.id}" name="name" value="${`Custom package for ${r.email}`.slice(0, 200)}" required maxlength="200">
      <label for="credits-${r.id}">Credits</label>
      <input type="number" id="credits-${r.id}" name="credits" value="${r.credits}" min="1" step="1" required>
      <label for="price-${r.id}">Price</label>
      <input type="text" id="price-${r.id}" name="price" inputmode="decimal" placeholder="e.g. 700.00" required>
      <label for="currency-${r.id}">Currency</label>
      <input type="text" id="currency-${r.id}" name="currency" value="usd" maxlength="3" required>
      <button type="submit" class="primary">Create package</button>
    </form>
  </td>
</tr>`,
  );
  return html`<section id="package-requests" aria-labelledby="package-requests-title">
  <h2 id="package-requests-title">Package requests</h2>
  ${
    rows.length
      ? html`<table><thead><tr><th>Asked</th><th>User</th><th class="num">Credits</th><th>Message</th><th>Answer</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">No open requests.</p>`
  }
</section>`;
}

export function customPackagesSection(packages: AdminPackage[]): Html {
  const rows = packages.map(
    (p) => html`<tr class="custom-package" data-package-id="${p.id}" data-status="${p.status}">
  <td>${p.name}</td><td class="num">${formatCredits(p.credits)}</td>
  <td class="num">${formatMoney(p.priceCents, p.currency)}</td>
  <td>${(p.visibleTo ?? []).join(', ')}</td>
  <td class="num">${formatCredits(p.purchaseCount)}${p.maxPurchases === null ? null : html` of ${formatCredits(p.maxPurchases)}`}</td>
  <td>${p.expiresAt ? formatTime(p.expiresAt) : '—'}</td>
  <td><span class="status ${p.status}">${p.status}</span></td>
  <td>${
    p.status === 'archived'
      ? null
      : html`<form method="post" action="${archivePackagePath(p.id)}" class="archive-package"><button type="submit">Archive</button></form>`
  }</td>
</tr>`,
  );
  return html`<section id="custom-packages" aria-labelledby="custom-packages-title">
  <h2 id="custom-packages-title">Custom packages</h2>
  ${
    rows.length
      ? html`<table><thead><tr><th>Name</th><th class="num">Credits</th><th class="num">Price</th><th>Visible to</th><th class="num">Bought</th><th>Expires</th><th>Status</th><th></th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">No custom packages yet. Answer a request above, or <code>POST /v1/admin/packages</code>.</p>`
  }
</section>`;
}
