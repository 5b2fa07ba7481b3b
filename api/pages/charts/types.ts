/** One bar series: a whole number per category (a day), in the chart's unit. */
export interface ChartSeries {
  /** A stable name for tests and styles (`data-series`): a feature, `revenue`, … */
  key: string;
  label: string;
  values: readonly number[];
}

export interface BarChartSpec {
  /** The figure's id; the chart's other ids derive from it. */
  id: string;
  /** What the chart shows, in a few words: the SVG's <title> and the table's caption. */
  title: string;
  /** The x axis: one bar (or group) per category, in order (YYYY-MM-DD days). */
  categories: readonly string[];
  categoryName: string;
  /** The y axis' name, with its unit ("Credits", "Amount (USD)"). */
  valueName: string;
  series: readonly ChartSeries[];
  /** Stacked: parts of one total (usage by feature). Grouped: side by side (revenue next to refunds). */
  layout: 'stacked' | 'grouped';
  /** A value as text: tick labels, bar tooltips, the summary and the table. */
  format: (value: number) => string;
  /** A category under its bar (short, e.g. "03-01"); the full category elsewhere. */
  tickLabel?: (category: string) => string;
}
