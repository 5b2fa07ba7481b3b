import { DAY_MS } from '../../../db/usage';

/**
 * The value axis of a bar chart: from 0 to `max`, in `ticks` equal whole-number steps of 1, 2 or
 * 5 times a power of ten, so tick labels read as round numbers (credits, or cents that are round
 * amounts of money). Integers only: a step is never below 1.
 */
export interface Scale {
  max: number;
  step: number;
  ticks: number[];
}

const TARGET_STEPS = 4;

export function niceScale(largest: number): Scale {
  const raw = Math.max(1, Math.ceil(largest / TARGET_STEPS));
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const count = Math.max(1, Math.ceil(largest / step));
  const ticks = Array.from({ length: count + 1 }, (_, i) => i * step);
  return { max: count * step, step, ticks };
}

/**
 * Where `value` sits on a `height`-pixel axis of `scale`, rounded to a whole pixel. Stacked
 * segments are drawn between the rounded positions of their running totals, so they meet
 * without gaps or overlaps whatever the rounding.
 */
export function position(value: number, scale: Scale, height: number): number {
  return Math.round((value * height) / scale.max);
}

/** Every UTC day from `from` to `to` inclusive (YYYY-MM-DD): a chart shows the days with nothing too. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(from); t <= Date.parse(to); t += DAY_MS) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}
