import type { MoneyDay } from '../../db/money-by-day';
import { formatMoney } from '../../domain';
import { barChart } from './charts/bar-chart';
import { daysBetween } from './charts/scale';
import { type Html, html } from './html';

/**
 * The operator page's money chart (issue 17): revenue, refunds and payouts by UTC day, side by
 * side, one chart per currency (amounts in different currencies do not add up). Hooks:
 * `#money-by-day`, `#money-chart-<currency>` (a chart of api/pages/charts/).
 */
export function moneySection(days: MoneyDay[], range: { from: string; to: string }): Html {
  const currencies = [...new Set(days.map((d) => d.currency))].sort();
  return html`<section id="money-by-day" aria-labelledby="money-by-day-title">
  <h2 id="money-by-day-title">Revenue, refunds and payouts</h2>
  <p class="muted">By day from ${range.from} to ${range.to} (UTC): purchases credited, refunds of paid purchases, withdrawals paid out.</p>
  ${
    currencies.length
      ? currencies.map((currency) => moneyChart(days, range, currency))
      : html`<p class="muted">No money moved in this period.</p>`
  }
</section>`;
}

function moneyChart(rows: MoneyDay[], range: { from: string; to: string }, currency: string): Html {
  const categories = daysBetween(range.from, range.to);
  const byDay = new Map(rows.filter((r) => r.currency === currency).map((r) => [r.day, r]));
  const values = (pick: (d: MoneyDay) => number) => categories.map((day) => pick(byDay.get(day) ?? EMPTY));
  return barChart({
    id: `money-chart-${currency}`,
    title: `Money by day (${currency.toUpperCase()})`,
    categories,
    categoryName: 'Day (UTC)',
    valueName: `Amount (${currency.toUpperCase()})`,
    layout: 'grouped',
    format: (cents) => formatMoney(cents, currency, { trimZeroFraction: true }),
    tickLabel: (day) => day.slice(5),
    series: [
      { key: 'revenue', label: 'Revenue', values: values((d) => d.revenueCents) },
      { key: 'refunds', label: 'Refunds', values: values((d) => d.refundCents) },
      { key: 'payouts', label: 'Payouts', values: values((d) => d.payoutCents) },
    ],
  });
}

const EMPTY: MoneyDay = { day: '', currency: '', revenueCents: 0, refundCents: 0, payoutCents: 0 };
