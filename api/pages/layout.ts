import { Html, html } from './html';

/** The style of every page: inline, small, no framework, readable on a phone. */
const STYLE = `
  :root { --ink: #1a1f36; --muted: #5f6b7a; --line: #e3e8ee; --bg: #f6f8fa; --brand: #4f46e5;
    --ok: #0f7b3f; --ok-bg: #e6f6ec; --warn: #8a5a00; --warn-bg: #fff4d6; --bad: #a41c1c; --bad-bg: #fde8e8; }
  * { box-sizing: border-box; }
  body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--ink);
    margin: 0; line-height: 1.45; }
  header { background: #fff; border-bottom: 1px solid var(--line); }
  header .bar { max-width: 60rem; margin: 0 auto; padding: 0.9rem 1.25rem; display: flex; align-items: center;
    justify-content: space-between; gap: 1rem; }
  header .brand { font-weight: 700; }
  header .who { color: var(--muted); font-size: 0.9rem; display: flex; align-items: center; gap: 0.75rem; }
  main { max-width: 60rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
  h1 { font-size: 1.6rem; margin: 0 0 1rem; }
  h2 { font-size: 1.15rem; margin: 0 0 0.75rem; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 12px; padding: 1.25rem; margin: 0 0 1.25rem; }
  .muted { color: var(--muted); font-size: 0.9rem; }
  .balance { display: flex; gap: 2.5rem; flex-wrap: wrap; align-items: baseline; }
  .figure { font-size: 2.4rem; font-weight: 700; font-variant-numeric: tabular-nums; }
  .figure.small { font-size: 1.3rem; font-weight: 600; }
  .packages { display: grid; grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr)); gap: 1rem; }
  .package { border: 1px solid var(--line); border-radius: 10px; padding: 1.1rem; display: flex; flex-direction: column;
    gap: 0.25rem; }
  .package .name { font-weight: 600; }
  .package .credits { font-size: 1.9rem; font-weight: 700; font-variant-numeric: tabular-nums; }
  .package .price { font-size: 1.2rem; margin-bottom: 0.75rem; }
  .package form { margin-top: auto; }
  button { font: inherit; padding: 0.6rem 1rem; border-radius: 8px; border: 1px solid var(--line); background: #fff;
    cursor: pointer; }
  button.primary { background: var(--brand); border-color: var(--brand); color: #fff; width: 100%; font-weight: 600; }
  a.button { display: block; text-align: center; padding: 0.6rem 1rem; border-radius: 8px; text-decoration: none; }
  a.button.primary { background: var(--brand); color: #fff; font-weight: 600; }
  button.link { border: none; background: none; color: var(--brand); padding: 0; }
  table { width: 100%; border-collapse: collapse; font-size: 0.95rem; }
  th, td { text-align: left; padding: 0.5rem 0.4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { color: var(--muted); font-weight: 600; font-size: 0.85rem; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .status { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-size: 0.8rem; font-weight: 600;
    background: var(--bg); }
  .status.completed { background: var(--ok-bg); color: var(--ok); }
  .status.pending { background: var(--warn-bg); color: var(--warn); }
  .status.failed, .status.expired, .status.partially_refunded, .status.refunded { background: var(--bad-bg); color: var(--bad); }
  .notice { border-radius: 10px; padding: 0.9rem 1.1rem; margin: 0 0 1.25rem; font-weight: 600; }
  .notice.completed { background: var(--ok-bg); color: var(--ok); }
  .notice.pending, .notice.cancelled { background: var(--warn-bg); color: var(--warn); }
  .notice.failed, .notice.expired, .notice.partially_refunded, .notice.refunded, .notice.unknown, .notice.error { background: var(--bad-bg);
    color: var(--bad); }
  details pre { white-space: pre-wrap; font-size: 0.85rem; background: var(--bg); padding: 0.75rem; border-radius: 8px; }
  label { display: block; font-weight: 600; margin-bottom: 0.35rem; }
  input[type=password], input[type=text], input[type=number] { width: 100%; padding: 0.65rem; font: inherit;
    border: 1px solid #cfd7df; border-radius: 8px; margin-bottom: 0.9rem; }
  .copy { display: flex; flex-wrap: wrap; gap: 0 0.5rem; align-items: baseline; }
  .copy label { flex-basis: 100%; }
  .copy input { flex: 1; }
  .status.paid, .status.rewarded { background: var(--ok-bg); color: var(--ok); }
  .status.pending_approval, .status.signed_up { background: var(--warn-bg); color: var(--warn); }
  .status.rejected, .status.clawed_back, .status.lost, .status.sold_out, .status.archived { background: var(--bad-bg);
    color: var(--bad); }
  .status.succeeded, .status.won, .status.active { background: var(--ok-bg); color: var(--ok); }
  .status.needs_response, .status.under_review { background: var(--warn-bg); color: var(--warn); }
  form#withdraw, form#payout-account { margin: 0.75rem 0; }
  .narrow { max-width: 28rem; margin: 3rem auto; }
  ul.help { margin: 0; padding-left: 1.2rem; }
  ul.help li { margin-bottom: 0.3rem; }
  .chart { margin: 0 0 1rem; }
  .chart-svg { display: block; width: 100%; height: auto; }
  .chart-svg text { font-size: 12px; fill: var(--muted); }
  .chart-svg .axis-name { font-weight: 600; fill: var(--ink); }
  .chart-svg line.grid { stroke: var(--line); }
  .chart-svg line.axis { stroke: #8792a2; }
  .chart-svg rect.bar { stroke: #fff; stroke-width: 0.5; }
  ul.legend { list-style: none; margin: 0.5rem 0; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3rem 1.25rem;
    font-size: 0.9rem; }
  .swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.4rem; }
  details.chart-data summary { cursor: pointer; color: var(--brand); font-size: 0.9rem; }
  table.chart-table caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding: 0.5rem 0; }
  ul.projects { list-style: none; margin: 0; padding: 0; }
  li.project { padding: 0.6rem 0; border-bottom: 1px solid var(--line); }
  li.project progress { display: block; width: 100%; height: 0.9rem; margin: 0.35rem 0 0.2rem; }
  .project-name { font-weight: 600; }
  .status.running { background: #e0e7ff; color: #3730a3; }
  .status.paused { background: var(--warn-bg); color: var(--warn); }
`;

export function layout(options: { title: string; body: Html; head?: Html; header?: Html }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.head}
<title>${options.title}</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<header><div class="bar"><span class="brand">Credits &amp; Billing</span>${options.header}</div></header>
<main>
${options.body}
</main>
</body>
</html>
`.text;
}
