/**
 * The one place integer minor units become text (receipts, the credits page, the Stripe
 * stand-in). Amounts are minor units as Stripe counts them: USD 5000 is $50.00, JPY 5000 is
 * ¥5,000, BHD 5000 is BHD 5.000. Deterministic (no Node APIs): workflows may import it.
 */

/** English, whatever the server's locale, so a receipt reads the same from every machine. */
const LOCALE = 'en-US';

/**
 * Currencies whose Stripe amounts keep two decimals although Intl (CLDR) shows none: ISK and
 * HUF became whole-unit currencies, but Stripe kept `100` = 1 króna / forint for backwards
 * compatibility (stripe.com/docs/currencies#special-cases). Elsewhere Intl's exponent is
 * Stripe's: 0 for JPY, KRW, VND, CLP, UGX; 3 for BHD, KWD, JOD, OMR, TND.
 */
const STRIPE_EXPONENT_OVERRIDES: Readonly<Record<string, number>> = { ISK: 2, HUF: 2 };

export interface MoneyFormatOptions {
  /** "$50" rather than "$50.00" when the amount is whole, as the product page writes prices. */
  trimZeroFraction?: boolean;
}

let known: ReadonlySet<string> | undefined;

/** The currency's decimals as Intl displays them, or undefined when Intl does not know it. */
function displayDigits(code: string): number | undefined {
  // Intl formats any well-formed code ("XYZ 50.00") with a guessed exponent of 2; only the
  // codes it lists are ones whose exponent it actually knows.
  known ??= new Set(Intl.supportedValuesOf('currency'));
  if (!known.has(code)) return undefined;
  return new Intl.NumberFormat(LOCALE, { style: 'currency', currency: code }).resolvedOptions()
    .maximumFractionDigits;
}

/**
 * `minorUnits` of `currency` (any case: Stripe sends "usd") as text: "$50.00", "¥5,000",
 * "€12.50". A code Intl does not know is shown as raw minor units ("5000 XYZ (minor units)")
 * rather than guessing its exponent or failing the page or email it is part of.
 */
export function formatMoney(minorUnits: number, currency: string, options: MoneyFormatOptions = {}): string {
  const code = currency.toUpperCase();
  const digits = displayDigits(code);
  if (digits === undefined) return `${minorUnits} ${code} (minor units)`;
  const exponent = STRIPE_EXPONENT_OVERRIDES[code] ?? digits;
  const amount = minorUnits / 10 ** exponent;
  return new Intl.NumberFormat(LOCALE, {
    style: 'currency',
    currency: code,
    minimumFractionDigits: options.trimZeroFraction && Number.isInteger(amount) ? 0 : digits,
    // Never round minor units away (HUF 10.45 stays 10.45 although forint shows no decimals).
    maximumFractionDigits: exponent,
  }).format(amount);
}

/**
 * Money typed by a person ("900", "900.5", "1,250.00") in `currency`'s major units, as Stripe
 * minor units; null when it is not a plain non-negative amount with at most the currency's
 * decimals (or the currency is unknown). The inverse of formatMoney for forms.
 */
export function parseMoney(text: string, currency: string): number | null {
  const code = currency.toUpperCase();
  const digits = displayDigits(code);
  if (digits === undefined) return null;
  const exponent = STRIPE_EXPONENT_OVERRIDES[code] ?? digits;
  const match = /^(\d{1,3}(?:,\d{3})+|\d{1,12})(?:\.(\d+))?$/.exec(text.trim());
  if (!match) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) return null;
  const minor =
    Number(match[1]!.replaceAll(',', '')) * 10 ** exponent + Number(fraction.padEnd(exponent, '0') || '0');
  return Number.isSafeInteger(minor) ? minor : null;
}
