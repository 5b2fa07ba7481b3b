import type { AutoTopUpView } from '../../app';
import { formatCredits, formatMoney } from '../../domain';
import { formatTime } from './format';
import { type Html, html } from './html';

/**
 * The credits page's billing section (DESIGN.md §13): the customer portal button (a form posting
 * to BILLING_PORTAL_PATH, which redirects to Stripe's portal) once the user has a saved
 * Customer, and the auto top-up setting with its state, this month's spend and each automatic
 * purchase. Stable hooks: `#billing`, `#billing-portal`, `#auto-top-up[data-state]`,
 * `tr.auto-purchase[data-purchase-id][data-status]`.
 */
export const BILLING_PORTAL_PATH = '/usercredits/billing-portal';

export interface BillingView {
  /** A saved Stripe Customer exists (after the first Checkout purchase): the portal can open. */
  hasCustomer: boolean;
  autoTopUp: AutoTopUpView | null;
}

export function billingSection(view: BillingView, names: Map<string, string>): Html {
  const setting = view.autoTopUp;
  return html`<section id="billing" aria-labelledby="billing-title">
  <h2 id="billing-title">Billing &amp; Auto Top-up</h2>
  ${
    view.hasCustomer
      ? html`<form method="post" action="${BILLING_PORTAL_PATH}" id="billing-portal"><button type="submit">Payments &amp; receipts (Stripe customer portal)</button></form>`
      : html`<p class="muted">Your receipts and saved card appear in the Stripe customer portal after your first purchase.</p>`
  }
  ${setting ? autoTopUpDetails(setting, names) : html`<p class="muted" id="auto-top-up" data-state="off">Auto top-up is off. Turn it on with <code>PUT /v1/settings {"autoTopUp": …}</code> once a purchase has saved your card.</p>`}
</section>`;
}

function autoTopUpDetails(s: AutoTopUpView, names: Map<string, string>): Html {
  const state = s.enabled ? s.state : 'off';
  const money = (cents: number) => formatMoney(cents, s.currency ?? 'usd');
  const rows = s.recentPurchases.map(
    (p) => html`<tr class="auto-purchase" data-purchase-id="${p.id}" data-status="${p.status}">
  <td>${formatTime(p.createdAt)}</td>
  <td>${names.get(p.packageId) ?? p.packageId}</td>
  <td class="num">${formatCredits(p.credits)}</td>
  <td class="num">${formatMoney(p.priceCents, p.currency)}</td>
  <td><span class="status ${p.status}">${p.status}</span>${p.failureReason ? html` <span class="muted">${p.failureReason}</span>` : null}</td>
</tr>`,
  );
  return html`<div id="auto-top-up" data-state="${state}">
  <p>${
    state === 'off'
      ? 'Auto top-up is off.'
      : state === 'suspended'
        ? html`<strong>Auto top-up is paused</strong> after ${s.failuresInARow} failed charges in a row. Save the setting again to resume it.`
        : html`When your available credits, less what your running projects need next, fall below <strong>${formatCredits(s.belowCredits)}</strong>, we buy <strong>${names.get(s.packageId) ?? s.packageId}</strong>${s.savedCard ? html` with your ${s.savedCard.brand} card ending ${s.savedCard.last4}` : null}.`
  }</p>
  <p class="muted">This month: ${money(s.monthSpendCents)} of ${money(s.monthlyLimitCents)}${s.inFlight ? ' · a top-up is being charged now' : ''}.</p>
  ${
    rows.length
      ? html`<table><thead><tr><th>Date</th><th>Package</th><th class="num">Credits</th><th class="num">Price</th><th>Status</th></tr></thead><tbody>${rows}</tbody></table>`
      : html`<p class="muted">No automatic purchases yet.</p>`
  }
</div>`;
}
