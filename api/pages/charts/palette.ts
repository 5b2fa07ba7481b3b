/**
 * Colours with at least 3:1 contrast against the white page (WCAG 1.4.11 for graphics), told
 * apart by hue and lightness; the legend, each bar's tooltip and the table carry the same facts
 * without colour.
 */
export const PALETTE = [
  '#4f46e5',
  '#b45309',
  '#0e7490',
  '#be185d',
  '#15803d',
  '#6d28d9',
  '#a41c1c',
  '#374151',
];

export function colorOf(index: number): string {
  return PALETTE[index % PALETTE.length]!;
}
