/**
 * A price from integer minor units, as the product page writes it: "$50", "$800", "$12.50".
 * Intl knows each currency's exponent (JPY has none); an unknown code shows the raw amount.
 */
export function formatPrice(minorUnits: number, currency: string): string {
  const code = currency.toUpperCase();
  try {
    const exponent = new Intl.NumberFormat('en-US', { style: 'currency', currency: code }).resolvedOptions()
      .maximumFractionDigits!;
    const amount = minorUnits / 10 ** exponent;
    return new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency: code,
      minimumFractionDigits: Number.isInteger(amount) ? 0 : exponent,
    }).format(amount);
  } catch {
    // A code Intl cannot format: show the raw minor units rather than fail the page.
    return `${minorUnits} ${code} (minor units)`;
  }
}

/** "2025-03-01 14:05 UTC": one unambiguous form, whatever the server's or browser's zone. */
export function formatTime(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}
