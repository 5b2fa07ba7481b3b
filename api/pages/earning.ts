import { createHash } from 'node:crypto';
import type { ReferralSummary } from '../../app/referrals';
import type { Earnings } from '../../db/earnings';
import type { Withdrawal } from '../../db/withdrawals';
import { formatCredits, formatMoney } from '../../domain';
import { formatTime } from './format';
import { Html, html } from './html';

/**
 * The credits page's earning side (DESIGN.md §11): the referral link with a copy button and the
 * referred sign-ups, earnings by agent, withdrawable credits with the payout account, a
 * withdrawal form and the withdrawals. Hooks: `#referral-link`, `#copy-referral-link`,
 * `tr.referred[data-status]`, `#earnings`, `tr.earning[data-agent-id]`, `#withdrawable`,
 * `#payout-account[data-payouts-enabled]`, `#withdraw`, `tr.withdrawal[data-withdrawal-id][data-status]`.
 */

export const WITHDRAW_PATH = '/usercredits/withdraw';
export const PAYOUT_ACCOUNT_PATH = '/usercredits/payout-account';

export interface EarningView {
  referrals: ReferralSummary;
  earnings: Earnings;
  withdrawable: number;
  withdrawals: Withdrawal[];
  payoutAccount: { payoutsEnabled: boolean } | null;
  minimumWithdrawal: number;
  creditValueCents: number;
  currency: string;
  /** A fresh key for the withdrawal form: a double submit is one withdrawal. */
  requestId: string;
}

/**
 * The page's only script: shows the Copy button and copies the referral link with it. Without
 * JavaScript the button stays hidden and the link is a selectable field. The page's Content-Security-Policy allows exactly this script, by its hash.
 */
const COPY_SCRIPT = `document.getElementById('copy-referral-link').hidden = false;
document.getElementById('copy-referral-link').addEventListener('click', function (event) {
  var button = event.currentTarget, field = document.getElementById('referral-link');
  field.select();
  var done = function () { button.textContent = 'Copied'; };
  if (navigator.clipboard) navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand('copy'); done(); });
  else { document.execCommand('copy'); done(); }
});`;

/** For the page's Content-Security-Policy: `script-src 'sha256-…'`. */
export const COPY_SCRIPT_HASH = `sha256-${createHash('sha256').update(COPY_SCRIPT).digest('base64')}`;

export function earningSections(view: EarningView): Html {
  return html`${referralSection(view.referrals)}
${earningsSection(view.earnings)}
${withdrawalsSection(view)}
<script>${new Html(COPY_SCRIPT)}</script>`;
}

const REFERRAL_STATUS: Record<ReferralSummary['referred'][number]['status'], string> = {
  signed_up: 'Signed up',
  rewarded: 'Rewarded',
  rejected: 'Not eligible',
  clawed_back: 'Taken back',
};

const CLAWBACK_REASON: Record<NonNullable<ReferralSummary['referred'][number]['clawbackReason']>, string> = {
  refunded: 'refunded',
  disputed: 'disputed',
  same_card: 'paid with your card',
};

function referralStatus(r: ReferralSummary['referred'][number]): string {
  const label = REFERRAL_STATUS[r.status];
  return r.clawbackReason ? `${label} (${CLAWBACK_REASON[r.clawbackReason]})` : label;
}

function referralSection(referrals: ReferralSummary): Html {
  const rows = referrals.referred.map(
    (r) => html`<tr class="referred" data-status="${r.status}">
  <td>${r.email}</td><td>${formatTime(r.signedUpAt)}</td>
  <td><span class="status ${r.status}">${referralStatus(r)}</span></td>
  <td class="num">${formatCredits(r.rewardCredits)}</td>
</tr>`,
  );
  return html`<section id="referrals" aria-labelledby="referrals-title">
  <h2 id="referrals-title">Refer a Friend</h2>
  <p class="muted">When someone signs up with your link, you earn credits on their first purchase.</p>
  <div class="copy">
    <label for="referral-link">Your referral link</label>
    <input type="text" id="referral-link" value="${referrals.link}" readonly>
    <button type="button" id="copy-referral-link" hidden>Copy</button>
  </div>
  ${
    rows.length
      ? html`<table><thead><tr><th>Referred</th><th>Signed up</th><th>Status</th><th class="num">Reward</th></tr></thead>
  <tbody>${rows}</tbody>
  <tfoot><tr><th colspan="3">Total rewards</th><th class="num" id="rewards-total">${formatCredits(referrals.rewardsTotal)}</th></tr></tfoot></table>`
      : html`<p class="muted">Nobody has signed up with your link yet.</p>`
  }
</section>`;
}

function earningsSection(earnings: Earnings): Html {
  const rows = earnings.byAgent.map(
    (a) => html`<tr class="earning" data-agent-id="${a.agentId}">
  <td>${a.name ?? a.agentId}</td><td class="num">${formatCredits(a.uses)}</td><td class="num">${formatCredits(a.credits)}</td>
</tr>`,
  );
  return html`<section id="earnings" aria-labelledby="earnings-title">
  <h2 id="earnings-title">Agent Earnings</h2>
  <p class="muted">Your share of what others spent on your agents, ${earnings.from} to ${earnings.to} (UTC).</p>
  ${
    rows.length
      ? html`<table><thead><tr><th>Agent</th><th class="num">Uses</th><th class="num">Credits earned</th></tr></thead>
  <tbody>${rows}</tbody>
  <tfoot><tr><th colspan="2">Total</th><th class="num" id="earnings-total">${formatCredits(earnings.totalCredits)}</th></tr></tfoot></table>`
      : html`<p class="muted">No agent earnings yet. Publish an agent with <code>POST /v1/agents</code>.</p>`
  }
</section>`;
}

const WITHDRAWAL_STATUS: Record<Withdrawal['status'], string> = {
  pending_approval: 'Waiting for approval',
  paid: 'Paid',
  rejected: 'Rejected',
  failed: 'Failed',
  expired: 'Expired',
};

function withdrawalsSection(view: EarningView): Html {
  const rows = view.withdrawals.map(
    (w) => html`<tr class="withdrawal" data-withdrawal-id="${w.id}" data-status="${w.status}">
  <td>${formatTime(w.createdAt)}</td><td class="num">${formatCredits(w.credits)}</td>
  <td class="num">${formatMoney(w.amountCents, w.currency)}</td>
  <td><span class="status ${w.status}">${WITHDRAWAL_STATUS[w.status]}</span>${w.reason ? html` <span class="muted">${w.reason}</span>` : null}</td>
</tr>`,
  );
  const enabled = view.payoutAccount?.payoutsEnabled === true;
  return html`<section id="withdrawals" aria-labelledby="withdrawals-title">
  <h2 id="withdrawals-title">Withdraw Earned Credits</h2>
  <div class="balance">
    <div><div class="figure small" id="withdrawable">${formatCredits(view.withdrawable)}</div><div class="muted">credits withdrawable</div></div>
    <div><div class="figure small" id="pending-earnings">${formatCredits(view.earnings.pendingCredits)}</div><div class="muted">earned, still clearing</div></div>
    ${
      view.earnings.withheldCredits > 0
        ? html`<div><div class="figure small" id="withheld-earnings">${formatCredits(view.earnings.withheldCredits)}</div><div class="muted">withheld from withdrawals: referral rewards taken back after they were spent</div></div>`
        : null
    }
  </div>
  <p class="muted">Earned credits can be spent at once and withdrawn once they clear. A withdrawal is at least ${formatCredits(view.minimumWithdrawal)} credits, paid at ${formatMoney(view.creditValueCents, view.currency)} a credit to your payout account after an operator approves it.</p>
  <form method="post" action="${PAYOUT_ACCOUNT_PATH}" id="payout-account" data-payouts-enabled="${String(enabled)}">
    ${enabled ? html`<span class="status completed">Payout account ready</span> ` : null}
    <button type="submit"${enabled ? null : html` class="primary"`}>${
      enabled ? 'Update payout account' : view.payoutAccount ? 'Finish payout setup' : 'Set up payouts'
    }</button>
  </form>
  ${
    enabled
      ? html`<form method="post" action="${WITHDRAW_PATH}" id="withdraw">
    <input type="hidden" name="requestId" value="${view.requestId}">
    <label for="withdraw-credits">Credits to withdraw</label>
    <input type="number" id="withdraw-credits" name="credits" min="${view.minimumWithdrawal}" max="${Math.max(view.withdrawable, view.minimumWithdrawal)}" step="1" required>
    <button type="submit" class="primary">Withdraw</button>
  </form>`
      : null
  }
  ${
    rows.length
      ? html`<table><thead><tr><th>Date</th><th class="num">Credits</th><th class="num">Amount</th><th>Status</th></tr></thead>
  <tbody>${rows}</tbody></table>`
      : html`<p class="muted">No withdrawals yet.</p>`
  }
</section>`;
}
