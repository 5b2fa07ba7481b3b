import { type Html, html } from '../html';
import { colorOf } from './palette';
import type { BarChartSpec } from './types';

/** Each series' sum over all categories. */
export function seriesTotals(spec: BarChartSpec): number[] {
  return spec.series.map((s) => s.values.reduce((a, b) => a + b, 0));
}

/** The legend under the chart: colour, name and total of each series. */
export function legend(spec: BarChartSpec): Html {
  const totals = seriesTotals(spec);
  return html`<ul class="legend">${spec.series.map(
    (s, i) =>
      html`<li data-series="${s.key}"><span class="swatch" style="background:${colorOf(i)}" aria-hidden="true"></span>${s.label}: <span class="legend-total">${spec.format(totals[i]!)}</span></li>`,
  )}</ul>`;
}

/**
 * The chart's numbers as a table: the same integers as the bars, readable without the picture
 * (screen readers, text browsers, no CSS). Categories where every series is zero are left out
 * and the caption says so, so thirty quiet days do not bury the few that matter.
 */
export function dataTable(spec: BarChartSpec): Html {
  const stacked = spec.layout === 'stacked';
  const rows = spec.categories.flatMap((category, c) => {
    const values = spec.series.map((s) => s.values[c]!);
    if (values.every((v) => v === 0)) return [];
    return [
      html`<tr data-category="${category}"><th scope="row">${category}</th>${values.map(
        (v, i) => html`<td class="num" data-series="${spec.series[i]!.key}">${spec.format(v)}</td>`,
      )}${stacked ? html`<td class="num total">${spec.format(values.reduce((a, b) => a + b, 0))}</td>` : null}</tr>`,
    ];
  });
  const totals = seriesTotals(spec);
  return html`<table class="chart-table" id="${spec.id}-table">
  <caption>${spec.title} (${spec.categoryName}; days not listed had none)</caption>
  <thead><tr><th scope="col">${spec.categoryName}</th>${spec.series.map(
    (s) => html`<th scope="col" class="num">${s.label}</th>`,
  )}${stacked ? html`<th scope="col" class="num">Total</th>` : null}</tr></thead>
  <tbody>${rows}</tbody>
  <tfoot><tr><th scope="row">Total</th>${totals.map(
    (t, i) => html`<td class="num" data-series="${spec.series[i]!.key}">${spec.format(t)}</td>`,
  )}${stacked ? html`<td class="num total">${spec.format(totals.reduce((a, b) => a + b, 0))}</td>` : null}</tr></tfoot>
</table>`;
}
