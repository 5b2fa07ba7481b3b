import type { Withdrawal } from '../../db/withdrawals';
import { formatCredits, formatMoney } from '../../domain';
import { formatTime } from './format';
import { type Html, html } from './html';
import { layout } from './layout';

/**
 * The operator page (`GET /admin`, DESIGN.md §12): what waits for a decision and what happened
 * lately, each with a link to its workflow in the Temporal Web UI. Hooks: `#admin-sign-in`,
 * `#admin-sign-in-error`, `#admin-sign-out`, `#pending-withdrawals`,
 * `tr.withdrawal[data-withdrawal-id][data-status]`, `form.approve`, `form.reject`,
 * `a.workflow-link`, plus the hooks of the sections operator features add.
 */

export const ADMIN_PATH = '/admin';
export const ADMIN_SIGN_IN_PATH = '/admin/session';
export const ADMIN_SIGN_OUT_PATH = '/admin/session/delete';
export const decidePath = (id: string, decision: 'approve' | 'reject') =>
  `/admin/withdrawals/${id}/${decision}`;

/** Builds a link to a workflow in the Temporal Web UI, or null when no UI is known. */
export type WorkflowLink = (workflowId: string) => string | null;

export interface AdminPageView {
  pendingWithdrawals: Withdrawal[];
  /** More wait than the page shows (the oldest are shown; the API pages through all). */
  morePending: boolean;
  recentWithdrawals: Withdrawal[];
  /** More sections (refunds, disputes, packages…), rendered by their features. */
  sections: Html[];
  workflowLink: WorkflowLink;
}

export function workflowAnchor(link: WorkflowLink, workflowId: string): Html {
  const href = link(workflowId);
  return href
    ? html`<a class="workflow-link" href="${href}" target="_blank" rel="noopener">${workflowId}</a>`
    : html`<code>${workflowId}</code>`;
}

export function adminPage(view: AdminPageView): string {
  return layout({
    title: 'Operator · Credits & Billing',
    header: html`<span class="who"><span>Operator</span><form method="post" action="${ADMIN_SIGN_OUT_PATH}" id="admin-sign-out"><button type="submit" class="link">Sign out</button></form></span>`,
    body: html`<h1>Operator</h1>
${pendingSection(view)}
${recentSection(view)}
${view.sections}`,
  });
}

function money(w: Withdrawal): string {
  return formatMoney(w.amountCents, w.currency);
}

function pendingSection(view: AdminPageView): Html {
  const rows = view.pendingWithdrawals.map(
    (w) => html`<tr class="withdrawal" data-withdrawal-id="${w.id}" data-status="${w.status}">
  <td>${formatTime(w.createdAt)}</td><td><code>${w.userId}</code></td>
  <td class="num">${formatCredits(w.credits)}</td><td class="num">${money(w)}</td>
  <td>${formatTime(w.expiresAt)}</td><td>${workflowAnchor(view.workflowLink, `withdrawal-${w.id}`)}</td>
  <td class="decide">
    <form method="post" action="${decidePath(w.id, 'approve')}" class="approve"><button type="submit" class="primary">Approve</button></form>
    <form method="post" action="${decidePath(w.id, 'reject')}" class="reject">
      <label for="reason-${w.id}">Reason</label>
      <input type="text" id="reason-${w.id}" name="reason" maxlength="500">
      <button type="submit">Reject</button>
    </form>
  </td>
</tr>`,
  );
  return html`<section id="pending-withdrawals" aria-labelledby="pending-withdrawals-title">
  <h2 id="pending-withdrawals-title">Withdrawals waiting for approval</h2>
  ${
    rows.length
      ? html`<table><thead><tr><th>Requested</th><th>User</th><th class="num">Credits</th><th class="num">Amount</th><th>Expires</th><th>Workflow</th><th>Decision</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">Nothing waits for a decision.</p>`
  }
  ${
    view.morePending
      ? html`<p class="muted more-pending">These are the oldest ${rows.length}; more wait. <code>GET /v1/admin/withdrawals?status=pending_approval</code> pages through all of them.</p>`
      : null
  }
</section>`;
}

function recentSection(view: AdminPageView): Html {
  const rows = view.recentWithdrawals.map(
    (w) => html`<tr class="withdrawal" data-withdrawal-id="${w.id}" data-status="${w.status}">
  <td>${formatTime(w.decidedAt ?? w.createdAt)}</td><td><code>${w.userId}</code></td>
  <td class="num">${formatCredits(w.credits)}</td><td class="num">${money(w)}</td>
  <td><span class="status ${w.status}">${w.status}</span>${w.reason ? html` <span class="muted">${w.reason}</span>` : null}</td>
  <td>${workflowAnchor(view.workflowLink, `withdrawal-${w.id}`)}</td>
</tr>`,
  );
  return html`<section id="recent-withdrawals" aria-labelledby="recent-withdrawals-title">
  <h2 id="recent-withdrawals-title">Recent withdrawals</h2>
  ${
    rows.length
      ? html`<table><thead><tr><th>Date</th><th>User</th><th class="num">Credits</th><th class="num">Amount</th><th>Status</th><th>Workflow</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">No withdrawals decided yet.</p>`
  }
</section>`;
}

export function adminSignInPage(options: { error?: string } = {}): string {
  return layout({
    title: 'Operator sign-in · Credits & Billing',
    body: html`<section class="narrow" id="admin-sign-in-section">
  <h1>Operator</h1>
  <p class="muted">Sign in with the operator key (<code>ADMIN_API_KEY</code>; <code>npm start</code> prints one).</p>
  ${options.error ? html`<p class="notice error" id="admin-sign-in-error" role="alert">${options.error}</p>` : null}
  <form method="post" action="${ADMIN_SIGN_IN_PATH}" id="admin-sign-in">
    <label for="operatorKey">Operator key</label>
    <input type="password" id="operatorKey" name="operatorKey" autocomplete="current-password" spellcheck="false" required>
    <button type="submit" class="primary">Sign in</button>
  </form>
</section>`,
  });
}

export function adminMessagePage(title: string, message: string): string {
  return layout({
    title,
    body: html`<section class="narrow"><h1>${title}</h1><p>${message}</p><p><a href="${ADMIN_PATH}">Back to the operator page</a></p></section>`,
  });
}
