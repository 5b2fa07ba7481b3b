import { formatMoney, parseMoney } from '../../domain';

/** Intl keeps a currency code and its number together with a no-break space. */
const NBSP = '\u00a0';

describe('formatMoney', () => {
  test.each<[string, number, string, string]>([
    ['a two-decimal currency', 5000, 'USD', '$50.00'],
    ['cents', 1250, 'usd', '$12.50'],
    ['thousands', 80_000_00, 'USD', '$80,000.00'],
    ['euros', 999, 'EUR', '€9.99'],
    ['yen, which has no minor unit', 5000, 'JPY', '¥5,000'],
    ['won', 5000, 'krw', '₩5,000'],
    ['dong', 5000, 'VND', '₫5,000'],
    ['Chilean pesos', 5000, 'CLP', `CLP${NBSP}5,000`],
    ['a three-decimal currency', 5000, 'BHD', `BHD${NBSP}5.000`],
    ['Kuwaiti dinars', 12_345, 'KWD', `KWD${NBSP}12.345`],
    // Stripe counts ISK and HUF in hundredths although they show no decimals.
    ['Icelandic krónur', 500_000, 'ISK', `ISK${NBSP}5,000`],
    ['forints with fillér left', 1045, 'HUF', `HUF${NBSP}10.45`],
    ['zero', 0, 'USD', '$0.00'],
    ['a negative amount', -250, 'USD', '-$2.50'],
  ])('when the amount is %s, then it reads as the currency writes it', (_name, minor, currency, text) => {
    expect(formatMoney(minor, currency)).toBe(text);
  });

  test('when whole amounts are trimmed, then "$50" but "$12.50", and yen unchanged', () => {
    const trim = { trimZeroFraction: true };
    expect(formatMoney(5000, 'usd', trim)).toBe('$50');
    expect(formatMoney(80_000, 'usd', trim)).toBe('$800');
    expect(formatMoney(1250, 'usd', trim)).toBe('$12.50');
    expect(formatMoney(5000, 'jpy', trim)).toBe('¥5,000');
    expect(formatMoney(5000, 'bhd', trim)).toBe(`BHD${NBSP}5`);
  });

  test.each<[string, string]>([
    ['well formed but not a currency', 'XYZ'],
    ['malformed', 'dollars'],
    ['empty', ''],
  ])('when the currency code is %s, then the raw minor units show and nothing throws', (_name, code) => {
    expect(formatMoney(5000, code)).toBe(`5000 ${code.toUpperCase()} (minor units)`);
  });
});

describe('parseMoney', () => {
  test.each([
    ['900', 'usd', 90000],
    ['900.5', 'usd', 90050],
    ['1,250.00', 'usd', 125000],
    ['5000', 'jpy', 5000],
    ['5.125', 'bhd', 5125],
    ['0.01', 'usd', 1],
  ])('when %s %s is typed, then it is %d minor units', (text, currency, minor) => {
    expect(parseMoney(text, currency)).toBe(minor);
  });

  test.each([
    ['1.001', 'usd'],
    ['5.5', 'jpy'],
    ['-1', 'usd'],
    ['1e3', 'usd'],
    ['12,34', 'usd'],
    ['', 'usd'],
    ['10', 'xyz'],
  ])('when %s %s is typed, then it is not an amount', (text, currency) => {
    expect(parseMoney(text, currency)).toBeNull();
  });
});
