/**
 * Amounts are integer minor units everywhere (as on Stripe); this is the one place they become
 * text, for the checkout page and error messages. Intl knows each currency's exponent (JPY: 0).
 */
export function formatAmount(minorUnits: number, currency: string): string {
  const code = currency.toUpperCase();
  try {
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency: code });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(minorUnits / 10 ** digits);
  } catch {
    // An ISO-shaped code Intl does not know: show the raw minor units rather than fail the page.
    return `${minorUnits} ${code} (minor units)`;
  }
}
