/**
 * Stripe's test card numbers, as far as the stand-in's checkout page needs them: the ones that
 * decline carry Stripe's own decline messages; any other well-formed number pays, like a test
 * card on Stripe; a malformed number is refused before any charge is tried.
 */
export type CardOutcome = { ok: true } | { ok: false; message: string };

export const PAYING_CARD = '4242424242424242';
export const DECLINING_CARD = '4000000000000002';

const DECLINES: Record<string, string> = {
  [DECLINING_CARD]: 'Your card was declined.',
  '4000000000009995': 'Your card has insufficient funds.',
  '4000000000000069': 'Your card has expired.',
  '4000000000000127': "Your card's security code is incorrect.",
};

/** `card` as typed on the page (spaces allowed); empty or absent means the prefilled card. */
export function chargeCard(card: string | undefined): CardOutcome {
  const digits = (card ?? '').replace(/[\s-]/g, '');
  if (digits === '') return { ok: true };
  const decline = DECLINES[digits];
  if (decline) return { ok: false, message: decline };
  if (!/^\d{12,19}$/.test(digits) || !luhnValid(digits)) {
    return { ok: false, message: 'Your card number is incorrect.' };
  }
  return { ok: true };
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}
