import type { UsageSummary } from '../../db/usage';
import { formatCredits, ownEntry } from '../../domain';
import { barChart } from './charts/bar-chart';
import { daysBetween } from './charts/scale';
import { featureLabel } from './features';
import type { Html } from './html';

/**
 * The credits page's usage chart: credits spent each UTC day of the summary's range, stacked by
 * feature (biggest feature first, at the bottom), net of reversals as the summary counts them
 * (db/usage.ts). Features whose charges were all reversed have nothing to draw and are left out.
 */
export function usageChart(usage: UsageSummary): Html {
  const days = daysBetween(usage.from, usage.to);
  const byDay = new Map(usage.byDay.map((d) => [d.day, d.byFeature]));
  const features = usage.byFeature
    .filter((f) => f.credits > 0)
    .sort((a, b) => b.credits - a.credits || a.feature.localeCompare(b.feature))
    .map((f) => f.feature);
  return barChart({
    id: 'usage-chart',
    title: 'Credits used by day and feature',
    categories: days,
    categoryName: 'Day (UTC)',
    valueName: 'Credits',
    layout: 'stacked',
    format: formatCredits,
    tickLabel: (day) => day.slice(5),
    series: features.map((feature) => ({
      key: feature,
      label: featureLabel(feature),
      // ownEntry: a feature named like an Object.prototype member must read as itself.
      values: days.map((day) => ownEntry(byDay.get(day) ?? {}, feature) ?? 0),
    })),
  });
}
