/** One promise of DESIGN.md §10, checked over `checked` items; each violation says which and why. */
export interface CheckResult {
  name: string;
  checked: number;
  violations: string[];
}

export function check(name: string, checked: number, violations: string[]): CheckResult {
  return { name, checked, violations };
}
