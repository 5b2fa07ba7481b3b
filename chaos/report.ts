import type { StripeStandIn } from '../dev/stripe';
import type { CheckResult } from './checks/check';
import type { FaultRecord } from './faults';
import { OUTCOMES, type Stats } from './stats';
import { perApiCount, type ThroughputPhase } from './throughput';

/** A plain-text table with aligned columns (numbers right-aligned), Markdown-compatible. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  // A column is numeric when every cell is a number or blank (a summary row may leave some blank).
  const numeric = headers.map(
    (_, i) =>
      rows.some((r) => typeof r[i] === 'number') &&
      rows.every((r) => typeof r[i] === 'number' || r[i] === ''),
  );
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(headers), rule, ...rows.map((r) => line(r.map(String)))].join('\n');
}

export function operationsTable(stats: Stats): string {
  const rows = stats
    .kinds()
    .map((kind) => [kind, stats.sent(kind), ...OUTCOMES.map((o) => stats.count(kind, o))]);
  rows.push(['all', rows.reduce((s, r) => s + (r[1] as number), 0), ...OUTCOMES.map((o) => stats.total(o))]);
  return table(['operation', 'sent', ...OUTCOMES], rows);
}

export function faultsTable(faults: FaultRecord[], crashes: string[], standIn: StripeStandIn): string {
  // One row per kind: how many, when (seconds into the fault phase), and what the first ones did.
  const kinds = [...new Set(faults.map((f) => f.kind))];
  const rows: (string | number)[][] = kinds.map((kind) => {
    const mine = faults.filter((f) => f.kind === kind);
    const shown = mine.slice(0, 2).map((f) => f.detail);
    if (mine.length > 2) shown.push(`… ${mine.length - 2} more`);
    return [kind, mine.length, mine.map((f) => `+${f.atSecond}`).join(', '), shown.join('; ')];
  });
  const firstTries = new Map<string, number>();
  for (const d of standIn.deliveries)
    if (d.attempt === 1) firstTries.set(d.eventId, (firstTries.get(d.eventId) ?? 0) + 1);
  const extraCopies = [...firstTries.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
  const dropped = standIn.deliveries.filter((d) => d.attempt === 0).length;
  const failed = standIn.deliveries.filter((d) => d.attempt > 0 && !(d.status && d.status < 300)).length;
  rows.push([
    'webhook deliveries (whole run)',
    '',
    '',
    `${standIn.events.length} events; ${dropped} dropped; ${extraCopies} extra copies; ${failed} attempts failed and retried`,
  ]);
  for (const c of crashes) rows.push(['process died by itself (restarted)', 1, '', c]);
  return table(['fault', 'injected', 'at (s)', 'detail'], rows);
}

export function throughputTable(phases: ThroughputPhase[]): string {
  const rows: (string | number)[][] = phases.map((p, i) => [
    `phase ${i + 1}: ${p.apis} API process${p.apis > 1 ? 'es' : ''}`,
    Number(p.seconds.toFixed(1)),
    p.charges,
    Math.round(p.perSecond),
    Math.round(p.p99Ms),
    '',
  ]);
  const totals = perApiCount(phases);
  const base = totals[0]?.perSecond ?? Number.NaN;
  for (const t of totals)
    rows.push([
      `all phases with ${t.apis}`,
      '',
      '',
      Math.round(t.perSecond),
      '',
      `×${(t.perSecond / base).toFixed(2)}`,
    ]);
  return table(['phase', 'seconds', 'usage charges (201)', 'charges/s', 'p99 ms', 'vs 1 API'], rows);
}

export function invariantsTable(checks: CheckResult[]): string {
  return table(
    ['invariant (DESIGN.md §10, §11, §14)', 'checked', 'violations', 'verdict'],
    checks.map((c) => [
      c.name,
      c.checked,
      c.violations.length,
      c.violations.length === 0 ? 'ok' : 'VIOLATED',
    ]),
  );
}

export function violationsText(checks: CheckResult[]): string {
  const bad = checks.filter((c) => c.violations.length > 0);
  if (bad.length === 0) return 'No violation.';
  return bad
    .map((c) => {
      const shown = c.violations.slice(0, 8).map((v) => `  - ${v}`);
      const more = c.violations.length > 8 ? [`  - … and ${c.violations.length - 8} more`] : [];
      return [`${c.name}:`, ...shown, ...more].join('\n');
    })
    .join('\n');
}
