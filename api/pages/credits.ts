import type { OutboxEntry } from '../../db/outbox';
import type { PackageRequest } from '../../db/package-requests';
import type { CreditPackage } from '../../db/packages';
import type { ProjectView } from '../../db/projects';
import type { Purchase } from '../../db/purchases';
import type { UsageSummary } from '../../db/usage';
import { formatCredits, formatMoney } from '../../domain';
import { type BillingView, billingSection } from './auto-top-up';
import { type EarningView, earningSections } from './earning';
import { featureLabel } from './features';
import { formatTime } from './format';
import { type Html, html } from './html';
import { layout } from './layout';
import { contactSalesSection, packageCard } from './packages';
import { projectsSection } from './projects';
import { usageChart } from './usage-chart';

/**
 * The credits page (`GET /usercredits`, DESIGN.md §2) and its sign-in form. Stable hooks for
 * tests and scripts: `#available`, `#held`, `.package[data-package-id=…] button`,
 * `#purchase-status[data-status]`, `tr.purchase[data-purchase-id][data-status]`, `#usage`,
 * `#notices`, `#help`, `#sign-in`, `#sign-in-error`, `#sign-out`; `#usage-chart` (api/pages/charts/) and
 * `#projects` (api/pages/projects.ts).
 */

export interface CreditsPageView {
  email: string;
  /** Signed in by cookie (shows Sign out); bearer clients have nothing to sign out of. */
  hasSession: boolean;
  balance: { available: number; held: number };
  packages: CreditPackage[];
  purchases: Purchase[];
  usage: UsageSummary;
  notices: OutboxEntry[];
  /** Back from Checkout (`?purchase=<id>[&cancelled=1]`); purchase null when it is not theirs. */
  returned: { purchase: Purchase | null; cancelled: boolean } | null;
  /** A fresh key for each Buy form: a double-clicked Buy starts one purchase, not two. */
  newRequestId: () => string;
  /** Referrals, agent earnings and withdrawals. */
  earning: EarningView;
  /** The user's contact-sales requests (api/pages/packages.ts); the section shows without them too. */
  packageRequests?: PackageRequest[];
  /** The customer portal link and the auto top-up setting (api/pages/auto-top-up.ts). */
  billing?: BillingView;
  /** The latest projects, with live progress (api/pages/projects.ts). */
  projects?: ProjectView[];
}

export const SIGN_IN_PATH = '/usercredits/session';
export const SIGN_OUT_PATH = '/usercredits/session/delete';
export { BUY_PATH, PACKAGE_REQUEST_PATH } from './packages';

export function creditsPage(view: CreditsPageView): string {
  const outcome = view.returned ? purchaseOutcome(view.returned.purchase, view.returned.cancelled) : null;
  const names = new Map(view.packages.map((p) => [p.id, p.name]));
  return layout({
    title: 'User Credits',
    // While the payment is being credited the page reloads itself each second; it stops as soon
    // as the purchase leaves `pending` (credited, failed, or the checkout expired).
    head: outcome?.refresh ? html`<meta http-equiv="refresh" content="1">` : undefined,
    header: html`<span class="who"><span id="user-email">${view.email}</span>${
      view.hasSession
        ? html`<form method="post" action="${SIGN_OUT_PATH}" id="sign-out"><button type="submit" class="link">Sign out</button></form>`
        : null
    }</span>`,
    body: html`<h1>User Credits</h1>
${
  outcome
    ? html`<p class="notice ${outcome.kind}" id="purchase-status" data-status="${outcome.kind}" role="status">${outcome.text}</p>`
    : null
}
<section id="balance" aria-labelledby="balance-title">
  <h2 id="balance-title">Current Balance</h2>
  <div class="balance">
    <div><div class="figure" id="available">${formatCredits(view.balance.available)}</div><div class="muted">credits available</div></div>
    <div><div class="figure small" id="held">${formatCredits(view.balance.held)}</div><div class="muted">held for work in progress</div></div>
  </div>
</section>
<section id="packages" aria-labelledby="packages-title">
  <h2 id="packages-title">Choose Your Package</h2>
  <p class="muted">Click on the package card that best suits your needs. You'll be redirected to a secure Stripe-hosted payment page; your credits are available as soon as the payment is confirmed.</p>
  <div class="packages">${view.packages.map((p) => packageCard(p, view.newRequestId()))}</div>
  <p class="muted">*Note: Package sizes and pricing are subject to change over time.</p>
</section>
${contactSalesSection(view.packageRequests ?? [], view.newRequestId(), names)}
${purchasesSection(view.purchases, names)}
${view.billing ? billingSection(view.billing, names) : null}
${usageSection(view.usage)}
${projectsSection(view.projects ?? [])}
${earningSections(view.earning)}
${noticesSection(view.notices)}
${HELP}`,
  });
}

/** A package's or purchase's price as the product page writes it: "$50", "$12.50", "¥5,000". */
function price(p: { priceCents: number; currency: string }): string {
  return formatMoney(p.priceCents, p.currency, { trimZeroFraction: true });
}

interface Outcome {
  kind:
    | 'pending'
    | 'completed'
    | 'cancelled'
    | 'failed'
    | 'expired'
    | 'partially_refunded'
    | 'refunded'
    | 'unknown';
  text: string;
  refresh: boolean;
}

function purchaseOutcome(purchase: Purchase | null, cancelled: boolean): Outcome {
  if (!purchase) return { kind: 'unknown', text: 'That purchase was not found.', refresh: false };
  switch (purchase.status) {
    case 'pending':
      // Cancelled: the session stays open until it expires, so the purchase is still pending.
      return cancelled
        ? { kind: 'cancelled', text: 'Checkout cancelled — nothing was charged.', refresh: false }
        : { kind: 'pending', text: 'Payment received — your credits are being added', refresh: true };
    case 'completed':
      return { kind: 'completed', text: `${formatCredits(purchase.credits)} credits added`, refresh: false };
    case 'failed':
      return {
        kind: 'failed',
        text: `Payment failed${purchase.failureReason ? `: ${purchase.failureReason}` : ''} — nothing was charged.`,
        refresh: false,
      };
    case 'expired':
      return { kind: 'expired', text: 'Checkout expired — nothing was charged.', refresh: false };
    case 'partially_refunded':
      return { kind: 'partially_refunded', text: 'Part of this purchase was refunded.', refresh: false };
    case 'refunded':
      return { kind: 'refunded', text: 'This purchase was refunded.', refresh: false };
  }
}

function purchasesSection(purchases: Purchase[], names: Map<string, string>): Html {
  const rows = purchases.map(
    (p) => html`<tr class="purchase" data-purchase-id="${p.id}" data-status="${p.status}"
    data-origin="${p.origin}">
  <td>${formatTime(p.createdAt)}</td>
  <td>${names.get(p.packageId) ?? p.packageId}${p.origin === 'auto_top_up' ? html` <span class="muted">(auto top-up)</span>` : null}</td>
  <td class="num">${formatCredits(p.credits)}</td>
  <td class="num">${price(p)}</td>
  <td><span class="status ${p.status}">${p.status}</span>${
    p.status === 'pending' && p.checkoutUrl && /^https?:\/\//.test(p.checkoutUrl)
      ? html` <a href="${p.checkoutUrl}">Continue checkout</a>`
      : null
  }${
    // What was given back (Stripe Dashboard and operator refunds), e.g. "refunded 1,000 credits ($11.11)".
    p.refunded && p.refunded.amountCents > 0
      ? html` <span class="refunded muted">refunded ${formatCredits(p.refunded.credits)} credits (${formatMoney(p.refunded.amountCents, p.currency)})</span>`
      : null
  }</td>
</tr>`,
  );
  return html`<section id="purchases" aria-labelledby="purchases-title">
  <h2 id="purchases-title">Recent Purchases</h2>
  ${
    rows.length
      ? html`<table><thead><tr><th>Date</th><th>Package</th><th class="num">Credits</th><th class="num">Price</th><th>Status</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">No purchases yet.</p>`
  }
</section>`;
}

function usageSection(usage: UsageSummary): Html {
  const rows = usage.byFeature.map(
    (f) =>
      html`<tr data-feature="${f.feature}"><td>${featureLabel(f.feature)}</td><td class="num">${formatCredits(f.events)}</td><td class="num">${formatCredits(f.credits)}</td></tr>`,
  );
  return html`<section id="usage" aria-labelledby="usage-title">
  <h2 id="usage-title">Usage Summary</h2>
  <p class="muted">Credits used from ${usage.from} to ${usage.to} (UTC), by feature.</p>
  ${
    rows.length
      ? html`${usage.totalCredits > 0 ? usageChart(usage) : null}
  <table><thead><tr><th>Feature</th><th class="num">Events</th><th class="num">Credits</th></tr></thead>
  <tbody>${rows}</tbody>
  <tfoot><tr><th>Total</th><td></td><th class="num" id="usage-total">${formatCredits(usage.totalCredits)}</th></tr></tfoot></table>`
      : html`<p class="muted">No usage in the last 30 days.</p>`
  }
</section>`;
}

function noticesSection(notices: OutboxEntry[]): Html {
  const items = notices.map(
    (n) => html`<tr class="mail" data-kind="${n.kind}">
  <td>${formatTime(n.createdAt)}</td>
  <td><details><summary>${n.subject}</summary><pre>${n.body}</pre></details></td>
  <td>${n.recipient}</td>
</tr>`,
  );
  return html`<section id="notices" aria-labelledby="notices-title">
  <h2 id="notices-title">Receipts &amp; Notices</h2>
  ${
    items.length
      ? html`<table><thead><tr><th>Date</th><th>Subject</th><th>Sent to</th></tr></thead><tbody>${items}</tbody></table>`
      : html`<p class="muted">No receipts or notices yet.</p>`
  }
</section>`;
}

/** The product page's troubleshooting advice, in its own words. */
const HELP = html`<section id="help" aria-labelledby="help-title">
  <h2 id="help-title">Credits not appearing?</h2>
  <p>If your credits don't show up after payment:</p>
  <ul class="help">
    <li><strong>Refresh the page:</strong> Sometimes a simple refresh resolves the issue</li>
    <li><strong>Wait a few minutes:</strong> In rare cases, there may be a brief processing delay</li>
    <li><strong>Check your email:</strong> Confirm you received a purchase receipt from Stripe (receipts are also listed above)</li>
    <li><strong>Contact support:</strong> If credits don't appear within 5 minutes, reach out to our support team</li>
  </ul>
</section>`;

/** Shown when the browser is not signed in; `error` after a bad key (the route answers 401). */
export function signInPage(options: { error?: string; returnTo?: string } = {}): string {
  return layout({
    title: 'Sign in · User Credits',
    body: html`<section class="narrow" id="sign-in-section">
  <h1>User Credits</h1>
  <p class="muted">Sign in with your API key to see your balance, buy credits and review your usage.</p>
  ${options.error ? html`<p class="notice error" id="sign-in-error" role="alert">${options.error}</p>` : null}
  <form method="post" action="${SIGN_IN_PATH}" id="sign-in">
    ${options.returnTo ? html`<input type="hidden" name="returnTo" value="${options.returnTo}">` : null}
    <label for="apiKey">API key</label>
    <input type="password" id="apiKey" name="apiKey" autocomplete="current-password" spellcheck="false" required>
    <button type="submit" class="primary">Sign in</button>
  </form>
  <p class="muted">No key yet? Sign up with <code>POST /v1/users</code>; the key is shown once.</p>
</section>`,
  });
}

/** A short page for a refused form post (bad input, someone else's site). */
export function messagePage(title: string, message: string): string {
  return layout({
    title,
    body: html`<section class="narrow"><h1>${title}</h1><p>${message}</p><p><a href="/usercredits">Back to User Credits</a></p></section>`,
  });
}
