import express, { type Response, type Router } from 'express';
import { escapeHtml } from '../../api/pages/html';
import { formatMoney } from '../../domain';
import { layout, messagePage } from './checkout-page';
import type { BillingPortalSession, Charge, Customer, PaymentIntent, PaymentMethod } from './objects';
import type { StandInStore } from './store';

/**
 * The hosted Billing Portal (a session's `url`, `/billing/portal/:token`) and hosted receipts (a
 * charge's `receipt_url`, `/receipts/:chargeId`), as far as "receipts are also in the customer
 * portal" needs them: the Customer's saved cards, and every payment with its amount (through
 * domain/money.ts formatMoney, so zero-decimal currencies show right), status, refunds and a
 * receipt link. Read-only; like the checkout page it needs no API key: the unguessable,
 * short-lived link is the credential. Stable hooks: `#portal`, `tr.payment[data-payment-intent]
 * [data-status]`, `a.receipt`, `li.card[data-payment-method]`, `#return`, `#receipt`.
 */
export const PORTAL_PATH = '/billing/portal';
export const RECEIPT_PATH = '/receipts';

export function portalRouter({ store }: { store: StandInStore }): Router {
  const router = express.Router();
  router.get(`${PORTAL_PATH}/:token`, (req, res) => {
    const portal = store.customers.portal(req.params.token);
    if (!portal) {
      return html(res, 404, messagePage('Link expired', 'This portal link is unknown or has expired.'));
    }
    const methods = store.customers.listPaymentMethods({ customer: portal.customer.id, limit: 100 }).data;
    html(
      res,
      200,
      portalPage(portal.session, portal.customer, methods, store.paymentsOf(portal.customer.id)),
    );
  });
  router.get(`${RECEIPT_PATH}/:chargeId`, (req, res) => {
    let charge: Charge;
    try {
      charge = store.getCharge(req.params.chargeId);
    } catch {
      return html(res, 404, messagePage('Not found', 'This receipt does not exist.'));
    }
    html(res, 200, receiptPage(charge));
  });
  return router;
}

function portalPage(
  session: BillingPortalSession,
  customer: Customer,
  methods: PaymentMethod[],
  payments: { paymentIntent: PaymentIntent; charge: Charge | undefined }[],
): string {
  const cards = methods
    .map(
      (m) =>
        `<li class="card" data-payment-method="${escapeHtml(m.id)}">${escapeHtml(m.card.brand)} •••• ${escapeHtml(m.card.last4)}` +
        ` <span class="muted">expires ${m.card.exp_month}/${m.card.exp_year}</span></li>`,
    )
    .join('');
  const rows = payments
    .map(({ paymentIntent: pi, charge }) => {
      const refunded = charge && charge.amount_refunded > 0;
      return (
        `<tr class="payment" data-payment-intent="${escapeHtml(pi.id)}" data-status="${escapeHtml(pi.status)}">` +
        `<td>${escapeHtml(new Date(pi.created * 1000).toISOString().slice(0, 10))}</td>` +
        `<td>${escapeHtml(pi.description ?? pi.metadata.packageId ?? 'Payment')}</td>` +
        `<td class="num">${escapeHtml(formatMoney(pi.amount, pi.currency))}</td>` +
        `<td>${escapeHtml(statusText(pi))}${
          refunded
            ? ` <span class="muted">refunded ${escapeHtml(formatMoney(charge.amount_refunded, charge.currency))}</span>`
            : ''
        }</td>` +
        `<td>${charge ? `<a class="receipt" href="${escapeHtml(charge.receipt_url)}">Receipt</a>` : ''}</td></tr>`
      );
    })
    .join('');
  const back = session.return_url
    ? `<p><a id="return" href="${escapeHtml(session.return_url)}">Return to the site</a></p>`
    : '';
  return layout(
    'Billing portal',
    `<section id="portal">
    <h1>Billing</h1>
    <p class="muted">${escapeHtml(customer.email ?? customer.id)}</p>
    <h2>Payment methods</h2>
    ${cards ? `<ul class="items">${cards}</ul>` : '<p class="muted">No saved payment methods.</p>'}
    <h2>Payments and receipts</h2>
    ${
      rows
        ? `<table><thead><tr><th>Date</th><th>Description</th><th>Amount</th><th>Status</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
        : '<p class="muted">No payments yet.</p>'
    }
    ${back}
    </section>`,
  );
}

function statusText(pi: PaymentIntent): string {
  switch (pi.status) {
    case 'succeeded':
      return 'Paid';
    case 'requires_action':
      return 'Needs authentication';
    case 'requires_payment_method':
      return pi.last_payment_error ? `Failed: ${pi.last_payment_error.message}` : 'Incomplete';
  }
}

function receiptPage(charge: Charge): string {
  const card = charge.payment_method_details.card;
  return layout(
    'Receipt',
    `<section id="receipt">
    <h1>Receipt</h1>
    <p class="amount">${escapeHtml(formatMoney(charge.amount, charge.currency))}</p>
    <ul class="items">
      <li><span>Date paid</span><span>${escapeHtml(new Date(charge.created * 1000).toISOString().slice(0, 10))}</span></li>
      <li><span>Payment method</span><span>${escapeHtml(card.brand)} •••• ${escapeHtml(card.last4)}</span></li>
      <li><span>Receipt number</span><span>${escapeHtml(charge.id)}</span></li>
      ${
        charge.amount_refunded > 0
          ? `<li><span>Refunded</span><span>${escapeHtml(formatMoney(charge.amount_refunded, charge.currency))}</span></li>`
          : ''
      }
    </ul>
    ${charge.billing_details.email ? `<p class="muted">Sent to ${escapeHtml(charge.billing_details.email)}</p>` : ''}
    </section>`,
  );
}

function html(res: Response, status: number, body: string): void {
  res.status(status).type('html').send(body);
}
