import { type BarChartSpec, barChart } from '../../api/pages/charts/bar-chart';
import { daysBetween, niceScale } from '../../api/pages/charts/scale';

/** Issue 17: the pages' bar chart (api/pages/charts/), a pure function from whole numbers to SVG. */
const spec = (over: Partial<BarChartSpec> = {}): BarChartSpec => ({
  id: 'c',
  title: 'Credits used',
  categories: ['2025-03-01', '2025-03-02', '2025-03-03'],
  categoryName: 'Day (UTC)',
  valueName: 'Credits',
  layout: 'stacked',
  format: (n) => n.toLocaleString('en-US'),
  series: [
    { key: 'a', label: 'Alpha', values: [10, 0, 3] },
    { key: 'b', label: 'Beta', values: [5, 0, 1200] },
  ],
  ...over,
});

/** The rects' attributes, as numbers where they are numbers. */
function rects(markup: string) {
  return [...markup.matchAll(/<rect class="bar" ([^>]*)>/g)].map(([, attrs]) => {
    const get = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(attrs!)![1]!;
    return {
      category: get('data-category'),
      series: get('data-series'),
      value: Number(get('data-value')),
      y: Number(get(' y')),
      height: Number(get('height')),
    };
  });
}

test('when values are stacked, then each day’s segments meet and the stack is as tall as its total', () => {
  const bars = rects(barChart(spec()).text);
  expect(bars.map((b) => [b.category, b.series, b.value])).toEqual([
    ['2025-03-01', 'a', 10],
    ['2025-03-01', 'b', 5],
    ['2025-03-03', 'a', 3],
    ['2025-03-03', 'b', 1200],
  ]);
  const [lower, upper] = bars.filter((b) => b.category === '2025-03-03');
  expect(upper!.y + upper!.height).toBe(lower!.y);
  // 1,203 on an axis to 1,400: the stack's height is its share of the plot, rounded once.
  const [small, big] = [bars[0]!.height + bars[1]!.height, lower!.height + upper!.height];
  expect(Math.abs(small / big - 15 / 1203)).toBeLessThan(0.01);
});

test('when the chart is rendered, then it is one labelled image with its numbers in a table', () => {
  const markup = barChart(spec()).text;
  expect(markup).toContain('role="img"');
  expect(markup).toMatch(
    /aria-label="Credits used, 2025-03-01 to 2025-03-03: 1,218 in all: Alpha 13, Beta 1,205; the most on 2025-03-03 \(1,203\)\."/,
  );
  expect(markup).toContain('<title>Credits used</title>');
  expect(markup).toMatch(/<desc>Credits used, 2025-03-01 to 2025-03-03/);
  // The quiet day is no row; the totals are.
  const rows = [...markup.matchAll(/<tr data-category="([^"]+)">/g)].map((m) => m[1]);
  expect(rows).toEqual(['2025-03-01', '2025-03-03']);
  expect(markup).toContain('<td class="num total">1,218</td>');
});

test('when labels hold markup, then it is escaped everywhere', () => {
  const markup = barChart(
    spec({ title: '<script>x</script>', series: [{ key: '"k', label: '<b>&', values: [1, 2, 3] }] }),
  ).text;
  expect(markup).not.toContain('<script>');
  expect(markup).not.toContain('<b>');
  expect(markup).toContain('&lt;b&gt;&amp;');
  expect(markup).toContain('data-series="&quot;k"');
});

test('when a value is not a whole number of at least 0, or a series is short, then the chart refuses it', () => {
  for (const values of [
    [1.5, 0, 0],
    [-1, 0, 0],
    [Number.NaN, 0, 0],
    [1, 2],
  ]) {
    expect(() => barChart(spec({ series: [{ key: 'a', label: 'A', values }] }))).toThrow(RangeError);
  }
});

test('when grouped, then series stand side by side from the baseline', () => {
  const bars = rects(barChart(spec({ layout: 'grouped' })).text);
  const day3 = bars.filter((b) => b.category === '2025-03-03');
  expect(day3[0]!.y + day3[0]!.height).toBe(day3[1]!.y + day3[1]!.height);
});

test('the value axis steps are round whole numbers and the days run without gaps', () => {
  expect(niceScale(0)).toEqual({ max: 1, step: 1, ticks: [0, 1] });
  expect(niceScale(7)).toEqual({ max: 8, step: 2, ticks: [0, 2, 4, 6, 8] });
  expect(niceScale(1203)).toEqual({ max: 1500, step: 500, ticks: [0, 500, 1000, 1500] });
  expect(niceScale(10_000).max).toBeGreaterThanOrEqual(10_000);
  expect(daysBetween('2025-02-27', '2025-03-02')).toEqual([
    '2025-02-27',
    '2025-02-28',
    '2025-03-01',
    '2025-03-02',
  ]);
});
