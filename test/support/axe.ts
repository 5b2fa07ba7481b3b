import type { AxeResults } from 'axe-core';
import type { Page } from 'playwright-core';

/** An accessibility violation worth failing a test for, in a form that reads well in a diff. */
export interface Finding {
  rule: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (the npm package, injected into the page) and returns its serious and critical
 * violations. The page's context must bypass its Content-Security-Policy (`bypassCSP: true`): the
 * pages allow only their own scripts, by hash. Closed <details> are opened first, so what they
 * hold (the charts' tables) is checked too.
 */
export async function seriousViolations(page: Page): Promise<Finding[]> {
  await page.evaluate("document.querySelectorAll('details').forEach(function (d) { d.open = true; })");
  await page.addScriptTag({ path: require.resolve('axe-core') });
  // (A string: the tests' TypeScript has no DOM types; this runs in the page.)
  const results = await page.evaluate<AxeResults>("axe.run(document, { resultTypes: ['violations'] })");
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      rule: v.id,
      impact: v.impact!,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
}
