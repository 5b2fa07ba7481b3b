import { html } from './html';
import { layout } from './layout';

/**
 * The sign-up page (`/signup?ref=CODE`, DESIGN.md §11) and the page that shows the new API key
 * once. Stable hooks for tests and scripts: `#signup` (the form), `#email`, `#referralCode`,
 * `#signup-error`, `#referral-note`; after signing up `#api-key`, `#your-referral-code`, `#continue`.
 */

export const SIGNUP_PATH = '/signup';
const CREDITS_PATH = '/usercredits';

export interface SignupFormView {
  email?: string | undefined;
  referralCode?: string | undefined;
  /** Why the last attempt failed (the route answers 4xx with it). */
  error?: string | undefined;
  /** What the page knows about the code in the link: someone's invitation, or not a code. */
  referral?: 'invited' | 'unknown' | undefined;
}

export function signupPage(view: SignupFormView = {}): string {
  return layout({
    title: 'Sign up · User Credits',
    body: html`<section class="narrow" id="signup-section">
  <h1>Create your account</h1>
  ${
    view.referral === 'invited'
      ? html`<p class="notice completed" id="referral-note" role="status">You were invited by a friend: their code is filled in below.</p>`
      : view.referral === 'unknown'
        ? html`<p class="notice pending" id="referral-note" role="status">The invitation code in this link is not valid. You can still sign up, with another code or none.</p>`
        : null
  }
  ${view.error ? html`<p class="notice error" id="signup-error" role="alert">${view.error}</p>` : null}
  <form method="post" action="${SIGNUP_PATH}" id="signup">
    <label for="email">Email</label>
    <input type="text" inputmode="email" id="email" name="email" autocomplete="email" spellcheck="false" required value="${view.email ?? ''}">
    <label for="referralCode">Referral code (optional)</label>
    <input type="text" id="referralCode" name="referralCode" autocomplete="off" spellcheck="false" value="${view.referralCode ?? ''}">
    <button type="submit" class="primary">Sign up</button>
  </form>
  <p class="muted">Already have an API key? <a href="${CREDITS_PATH}">Sign in to User Credits</a>.</p>
</section>`,
  });
}

/**
 * After signing up: the API key, shown this once (only its hash is stored), and the way on to
 * the credits page, where this browser is already signed in.
 */
export function signedUpPage(view: { email: string; apiKey: string; referralCode: string }): string {
  return layout({
    title: 'Welcome · User Credits',
    body: html`<section class="narrow" id="signed-up">
  <h1>Welcome!</h1>
  <p>Your account <strong id="signed-up-email">${view.email}</strong> is ready and this browser is signed in.</p>
  <label for="api-key">Your API key</label>
  <input type="text" id="api-key" readonly spellcheck="false" value="${view.apiKey}">
  <p class="notice pending" role="note">Copy it now and keep it secret: it is shown only this once. Services use it as <code>Authorization: Bearer &lt;key&gt;</code>, and it signs you in on other browsers.</p>
  <p>Your own referral code is <strong id="your-referral-code">${view.referralCode}</strong>: friends who sign up with it earn you credits on their first purchase.</p>
  <p><a class="button primary" href="${CREDITS_PATH}" id="continue">Continue to User Credits</a></p>
</section>`,
  });
}
