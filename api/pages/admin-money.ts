import type { Dispute } from '../../db/disputes';
import type { OperatorRefund } from '../../db/refunds';
import { formatCredits, formatMoney } from '../../domain';
import { workflowIds } from '../../workflows/messages';
import { type WorkflowLink, workflowAnchor } from './admin';
import { formatTime } from './format';
import { type Html, html } from './html';

/**
 * The operator page's money-back sections (DESIGN.md §12): recent operator refunds and disputes,
 * each with its workflow. Hooks: `#recent-refunds`, `tr.refund[data-refund-id][data-status]`,
 * `#recent-disputes`, `tr.dispute[data-dispute-id][data-status]`.
 */
export function refundsSection(refunds: OperatorRefund[], link: WorkflowLink): Html {
  const rows = refunds.map(
    (r) => html`<tr class="refund" data-refund-id="${r.id}" data-status="${r.status}">
  <td>${formatTime(r.createdAt)}</td><td><code>${r.purchaseId}</code></td>
  <td class="num">${formatCredits(r.credits)}</td><td class="num">${formatMoney(r.amountCents, r.currency)}</td>
  <td>${r.reason.replaceAll('_', ' ')}</td>
  <td><span class="status ${r.status}">${r.status}</span>${r.failureReason ? html` <span class="muted">${r.failureReason}</span>` : null}</td>
  <td>${workflowAnchor(link, workflowIds.operatorRefund(r.id))}</td>
</tr>`,
  );
  return html`<section id="recent-refunds" aria-labelledby="recent-refunds-title">
  <h2 id="recent-refunds-title">Recent refunds</h2>
  <p class="muted">Refund with <code>POST /v1/admin/refunds {purchaseId, credits?, reason}</code>: at most the purchase's unused credits, money in proportion.</p>
  ${
    rows.length
      ? html`<table><thead><tr><th>Date</th><th>Purchase</th><th class="num">Credits</th><th class="num">Amount</th><th>Reason</th><th>Status</th><th>Workflow</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">No refunds yet.</p>`
  }
</section>`;
}

export function disputesSection(disputes: Dispute[], link: WorkflowLink): Html {
  const rows = disputes.map(
    (d) => html`<tr class="dispute" data-dispute-id="${d.id}" data-status="${d.status}">
  <td>${formatTime(d.createdAt)}</td><td><code>${d.purchaseId}</code></td>
  <td class="num">${formatMoney(d.amountCents, d.currency)}</td>
  <td class="num">${formatCredits(d.creditsHeld ?? 0)} of ${formatCredits(d.creditsDue)}</td>
  <td>${d.reason ?? ''}</td><td><span class="status ${d.status}">${d.status}</span></td>
  <td>${workflowAnchor(link, workflowIds.dispute(d.id))}</td>
</tr>`,
  );
  return html`<section id="recent-disputes" aria-labelledby="recent-disputes-title">
  <h2 id="recent-disputes-title">Recent disputes</h2>
  ${
    rows.length
      ? html`<table><thead><tr><th>Opened</th><th>Purchase</th><th class="num">Disputed</th><th class="num">Credits held</th><th>Reason</th><th>Status</th><th>Workflow</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">No disputes.</p>`
  }
</section>`;
}
