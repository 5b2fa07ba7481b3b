import { type Html, html } from '../html';
import { dataTable, legend, seriesTotals } from './data-table';
import { colorOf } from './palette';
import { niceScale, position, type Scale } from './scale';
import type { BarChartSpec } from './types';

export type { BarChartSpec, ChartSeries } from './types';

/** The drawing's coordinate system (the SVG scales to its box; text keeps its proportions). */
const WIDTH = 720;
const HEIGHT = 260;
const MARGIN = { top: 28, right: 8, bottom: 44, left: 84 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;
const BASELINE = MARGIN.top + PLOT_H;
/** At most this many day labels under the bars, so they never overlap. */
const MAX_TICK_LABELS = 10;

/** One decimal is plenty for a 720-unit drawing and keeps the markup short. */
const px = (n: number) => Math.round(n * 10) / 10;

/**
 * A bar chart as server-rendered SVG (no script, no library): pure, from whole numbers to markup.
 * Accessible as one image (role="img", an aria-label that states the totals and the busiest
 * day, <title> and <desc>), with a legend and a table of the very same numbers under it. Every
 * text goes through the escaping `html` template. Hooks: `figure#<id>`, `rect.bar[data-category]
 * [data-series][data-value]`, `#<id>-table tr[data-category] td[data-series]`.
 */
export function barChart(spec: BarChartSpec): Html {
  checkSpec(spec);
  const scale = niceScale(largestBar(spec));
  const summary = summarize(spec);
  return html`<figure class="chart" id="${spec.id}">
<svg class="chart-svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${summary}" focusable="false">
<title>${spec.title}</title>
<desc>${summary}</desc>
${valueAxis(spec, scale)}
${bars(spec, scale)}
${categoryAxis(spec)}
</svg>
${legend(spec)}
<details class="chart-data"><summary>Show the numbers</summary>
${dataTable(spec)}
</details>
</figure>`;
}

/** Whole, non-negative, safe numbers, one per category: anything else is a caller's bug. */
function checkSpec(spec: BarChartSpec): void {
  for (const s of spec.series) {
    if (s.values.length !== spec.categories.length)
      throw new RangeError(
        `chart ${spec.id}: series ${s.key} has ${s.values.length} values for ${spec.categories.length} categories`,
      );
    if (!s.values.every((v) => Number.isSafeInteger(v) && v >= 0))
      throw new RangeError(`chart ${spec.id}: series ${s.key} holds a value that is not a whole number >= 0`);
  }
}

function categoryTotal(spec: BarChartSpec, c: number): number {
  return spec.series.reduce((sum, s) => sum + s.values[c]!, 0);
}

/** The tallest bar: a day's total when stacked, the largest single value when grouped. */
function largestBar(spec: BarChartSpec): number {
  if (spec.layout === 'stacked') return Math.max(0, ...spec.categories.map((_, c) => categoryTotal(spec, c)));
  return Math.max(0, ...spec.series.flatMap((s) => s.values));
}

/** The sentence a screen reader says for the picture: range, totals per series, busiest day. */
function summarize(spec: BarChartSpec): string {
  const first = spec.categories[0] ?? '';
  const last = spec.categories.at(-1) ?? '';
  const totals = seriesTotals(spec);
  const parts = spec.series.map((s, i) => `${s.label} ${spec.format(totals[i]!)}`);
  const dayTotals = spec.categories.map((_, c) => categoryTotal(spec, c));
  const most = Math.max(0, ...dayTotals);
  const busiest = spec.categories[dayTotals.indexOf(most)];
  const peak =
    most === 0
      ? 'nothing on any day'
      : spec.layout === 'stacked'
        ? `the most on ${busiest} (${spec.format(most)})`
        : `the busiest day ${busiest}`;
  const all = spec.layout === 'stacked' ? `${spec.format(totals.reduce((a, b) => a + b, 0))} in all: ` : '';
  return `${spec.title}, ${first} to ${last}: ${all}${parts.join(', ')}; ${peak}.`;
}

function valueAxis(spec: BarChartSpec, scale: Scale): Html {
  const lines = scale.ticks.map((tick) => {
    const y = BASELINE - position(tick, scale, PLOT_H);
    return html`<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${y}" y2="${y}" class="${tick === 0 ? 'axis' : 'grid'}"/>
<text x="${MARGIN.left - 6}" y="${y}" dy="0.32em" text-anchor="end">${spec.format(tick)}</text>`;
  });
  return html`<g class="value-axis">
<text x="${MARGIN.left}" y="${MARGIN.top - 12}" class="axis-name">${spec.valueName}</text>
${lines}
</g>`;
}

function categoryAxis(spec: BarChartSpec): Html {
  const band = PLOT_W / Math.max(1, spec.categories.length);
  const every = Math.ceil(spec.categories.length / MAX_TICK_LABELS);
  const label = spec.tickLabel ?? ((c: string) => c);
  // Counted back from the last day, so the latest (today) always has its label.
  const last = spec.categories.length - 1;
  const ticks = spec.categories.flatMap((category, c) =>
    (last - c) % every === 0
      ? [
          html`<text x="${px(MARGIN.left + (c + 0.5) * band)}" y="${BASELINE + 16}" text-anchor="middle">${label(category)}</text>`,
        ]
      : [],
  );
  return html`<g class="category-axis">
${ticks}
<text x="${px(MARGIN.left + PLOT_W / 2)}" y="${HEIGHT - 6}" text-anchor="middle" class="axis-name">${spec.categoryName}</text>
</g>`;
}

function bars(spec: BarChartSpec, scale: Scale): Html {
  const band = PLOT_W / Math.max(1, spec.categories.length);
  const rects = spec.categories.flatMap((category, c) => {
    const left = MARGIN.left + c * band;
    const place = spec.layout === 'stacked' ? stacking(scale, left, band) : grouping(spec, scale, left, band);
    // A zero draws nothing (it would be a zero-height rect); the table still shows it.
    return spec.series.flatMap((s, index) => {
      const value = s.values[c]!;
      return value === 0 ? [] : [rect(spec, { category, index, value, ...place(index, value) })];
    });
  });
  return html`<g class="bars">${rects}</g>`;
}

/** A bar or segment: `value` of series `index`, from `bottom` to `top` pixels above the baseline. */
interface Bar extends Placed {
  category: string;
  index: number;
  value: number;
}

interface Placed {
  x: number;
  width: number;
  bottom: number;
  top: number;
}

/** Where a layout puts series `index`'s value in one category's band; called in series order. */
type Placement = (index: number, value: number) => Placed;

/** Stacked: one bar per category, each series a segment on top of the ones before it. */
function stacking(scale: Scale, left: number, band: number): Placement {
  const width = Math.max(1, band * 0.7);
  const x = left + (band - width) / 2;
  let below = 0;
  return (_index, value) => {
    const bottom = position(below, scale, PLOT_H);
    below += value;
    return { x, width, bottom, top: position(below, scale, PLOT_H) };
  };
}

/** Grouped: the series side by side in the category's band, each bar from the baseline. */
function grouping(spec: BarChartSpec, scale: Scale, left: number, band: number): Placement {
  const width = (band * 0.8) / Math.max(1, spec.series.length);
  return (index, value) => ({
    x: left + band * 0.1 + index * width,
    width,
    bottom: 0,
    top: position(value, scale, PLOT_H),
  });
}

/** One bar with its tooltip (mouse users; the aria-label and the table serve everyone else). */
function rect(spec: BarChartSpec, bar: Bar): Html {
  const series = spec.series[bar.index]!;
  return html`<rect class="bar" data-category="${bar.category}" data-series="${series.key}" data-value="${bar.value}" x="${px(bar.x)}" y="${BASELINE - bar.top}" width="${px(bar.width)}" height="${bar.top - bar.bottom}" fill="${colorOf(bar.index)}"><title>${bar.category} · ${series.label}: ${spec.format(bar.value)}</title></rect>`;
}
