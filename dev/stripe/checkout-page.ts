import { escapeHtml } from '../../api/pages/html';
import { formatMoney } from '../../domain';
import { PAYING_CARD } from './cards';
import type { CheckoutSession, LineItem } from './objects';

/**
 * The hosted checkout page's HTML. Contract (DESIGN.md §8, relied on by tests and scripts):
 * three forms, each POSTing to the checkout URL itself with a hidden `action` field — Pay
 * (`#pay`, with a `card` text input prefilled with 4242…), Decline (`#decline`), Cancel
 * (`#cancel`). No script: a plain form post works from a browser, curl or fetch alike.
 */

export interface CheckoutView {
  session: CheckoutSession;
  lineItems: LineItem[];
  checkoutUrl: string;
  /** A decline message shown above the forms. */
  error?: string;
  /** The card number to prefill (what the user typed last time). */
  card?: string;
  /** `off_session`: the card is saved for later charges, and the page says so (the buyer's consent). */
  setupFutureUsage?: string | null;
}

export function checkoutPage(view: CheckoutView): string {
  const { session, lineItems, checkoutUrl } = view;
  const action = escapeHtml(checkoutUrl);
  const total = formatMoney(session.amount_total, session.currency);
  const items = lineItems
    .map(
      (item) =>
        `<li><span>${escapeHtml(item.description)}${item.quantity > 1 ? ` × ${item.quantity}` : ''}</span>` +
        `<span>${escapeHtml(formatMoney(item.amount_total, item.currency))}</span></li>`,
    )
    .join('');
  const error = view.error ? `<p class="error" role="alert">${escapeHtml(view.error)}</p>` : '';
  const email = session.customer_email
    ? `<p class="muted">Receipt to ${escapeHtml(session.customer_email)}</p>`
    : '';
  return layout(
    `Pay ${total}`,
    `<h1>${escapeHtml(lineItems[0]?.description ?? 'Checkout')}</h1>
    <p class="amount">${escapeHtml(total)}</p>
    <ul class="items">${items}</ul>
    ${email}
    ${
      view.setupFutureUsage === 'off_session'
        ? '<p class="muted" id="save-card-consent">By paying, you allow the seller to save this card and charge it for future payments in line with their terms (auto top-up).</p>'
        : ''
    }
    ${error}
    <form method="POST" action="${action}" class="pay">
      <input type="hidden" name="action" value="pay">
      <label for="card">Card number</label>
      <input type="text" id="card" name="card" value="${escapeHtml(view.card ?? PAYING_CARD)}" inputmode="numeric" autocomplete="off">
      <p class="muted">Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.</p>
      <button type="submit" id="pay">Pay</button>
    </form>
    <div class="secondary">
      <form method="POST" action="${action}">
        <input type="hidden" name="action" value="decline">
        <button type="submit" id="decline">Decline</button>
      </form>
      <form method="POST" action="${action}">
        <input type="hidden" name="action" value="cancel">
        <button type="submit" id="cancel">Cancel</button>
      </form>
    </div>`,
  );
}

/** A page with a message only: expired, already paid, unknown session, cancelled. */
export function messagePage(title: string, message: string): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

/** The stand-in's page frame, shared with the onboarding page. */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)} · Stripe stand-in</title>
  <style>
    body { font-family: system-ui, sans-serif; background: #f6f8fa; color: #1a1f36; margin: 0; }
    main { max-width: 26rem; margin: 3rem auto; background: #fff; border-radius: 12px; padding: 2rem;
      box-shadow: 0 2px 12px rgba(0, 0, 0, 0.08); }
    h1 { font-size: 1.2rem; margin: 0 0 0.5rem; }
    .amount { font-size: 2rem; font-weight: 600; margin: 0 0 1rem; }
    .items { list-style: none; padding: 0; margin: 0 0 1rem; border-top: 1px solid #e3e8ee; }
    .items li { display: flex; justify-content: space-between; padding: 0.5rem 0; border-bottom: 1px solid #e3e8ee; }
    .muted { color: #697386; font-size: 0.85rem; }
    .error { background: #fde8e8; color: #a41c1c; padding: 0.75rem; border-radius: 6px; }
    label { display: block; font-size: 0.9rem; margin-bottom: 0.25rem; }
    input[type=text] { width: 100%; box-sizing: border-box; padding: 0.6rem; font-size: 1rem;
      border: 1px solid #cfd7df; border-radius: 6px; }
    button { font-size: 1rem; padding: 0.7rem 1rem; border-radius: 6px; border: 1px solid #cfd7df;
      background: #fff; cursor: pointer; }
    #pay, #complete { width: 100%; background: #635bff; color: #fff; border: none; margin-top: 0.5rem; }
    .secondary { display: flex; gap: 0.5rem; margin-top: 1rem; }
    .secondary form { flex: 1; } .secondary button { width: 100%; }
    .badge { display: inline-block; background: #ffde92; color: #5a3b00; font-size: 0.75rem;
      padding: 0.1rem 0.5rem; border-radius: 4px; margin-bottom: 1rem; }
  </style>
</head>
<body>
  <main>
    <span class="badge">TEST MODE · Stripe stand-in</span>
    ${body}
  </main>
</body>
</html>
`;
}
