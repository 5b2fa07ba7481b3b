import { escapeHtml } from '../../api/pages/html';
import { layout } from './checkout-page';
import type { Account } from './objects';

/**
 * The hosted Connect onboarding page's HTML. Contract (DESIGN.md §11, relied on by tests and
 * scripts, like the checkout page's): one form POSTing to the onboarding URL itself with a
 * hidden `action=complete` and a submit button `#complete`. No script, so a browser, curl or
 * fetch can complete it alike.
 */

export interface OnboardingView {
  account: Account;
  /** The account link's URL: the page's own address. */
  url: string;
}

export function onboardingPage({ account, url }: OnboardingView): string {
  const who = account.email ? `${escapeHtml(account.email)} · ` : '';
  return layout(
    'Set up payouts',
    `<h1>Set up payouts</h1>
    <p class="muted">${who}${escapeHtml(account.id)}</p>
    <p>Stripe would now ask for identity details and a bank account. The stand-in asks for
      nothing: completing onboarding enables charges and payouts for this account.</p>
    <form method="POST" action="${escapeHtml(url)}">
      <input type="hidden" name="action" value="complete">
      <button type="submit" id="complete">Complete onboarding</button>
    </form>`,
  );
}
