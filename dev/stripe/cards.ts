import { createHash } from 'node:crypto';
import type { CardBrand, CardDetails } from './objects';

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

/** Cards that need the cardholder (3-D Secure): paid on the checkout page, never off-session. */
export const AUTHENTICATION_CARDS: ReadonlySet<string> = new Set([
  '4000002500003155',
  '4000000000003155',
  '4000002760003184',
]);

/**
 * Stripe's "attaching succeeds, charges fail" card. The stand-in's checkout page lets it pay (so
 * a test can save a card that declines later, as a card does once its funds run out); every
 * off-session charge on it is declined.
 */
export const DECLINES_LATER_CARD = '4000000000000341';

/** How an off-session charge (a saved card, no cardholder present) on `digits` ends. */
export type OffSessionOutcome =
  | { ok: true }
  | {
      ok: false;
      code: 'card_declined' | 'authentication_required' | 'expired_card' | 'incorrect_cvc';
      declineCode?: string;
      message: string;
    };

export function chargeOffSession(digits: string, offSession: boolean): OffSessionOutcome {
  if (AUTHENTICATION_CARDS.has(digits)) {
    return offSession
      ? {
          ok: false,
          code: 'authentication_required',
          declineCode: 'authentication_required',
          message:
            'Your card was declined. This transaction requires authentication, and the customer is not on-session.',
        }
      : { ok: false, code: 'authentication_required', message: 'This payment requires authentication.' };
  }
  switch (digits) {
    case DECLINING_CARD:
    case DECLINES_LATER_CARD:
      return {
        ok: false,
        code: 'card_declined',
        declineCode: 'generic_decline',
        message: 'Your card was declined.',
      };
    case '4000000000009995':
      return {
        ok: false,
        code: 'card_declined',
        declineCode: 'insufficient_funds',
        message: 'Your card has insufficient funds.',
      };
    case '4000000000000069':
      return { ok: false, code: 'expired_card', message: 'Your card has expired.' };
    case '4000000000000127':
      return { ok: false, code: 'incorrect_cvc', message: "Your card's security code is incorrect." };
    default:
      return { ok: true };
  }
}

/** `card` as typed on the page (spaces allowed); empty or absent means the prefilled card. */
export function chargeCard(card: string | undefined): CardOutcome {
  const digits = cardDigits(card);
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

/** The digits of `card` as typed (spaces and dashes allowed); empty or absent is the prefilled 4242…. */
export function cardDigits(card: string | undefined): string {
  const digits = (card ?? '').replace(/[\s-]/g, '');
  return digits === '' ? PAYING_CARD : digits;
}

const FINGERPRINT_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * The `payment_method_details.card.fingerprint` of every charge to `cardNumber`: 16 base-62
 * characters, like Stripe's. It is a hash of the digits and nothing else (no per-instance
 * secret), so the same number gives the same fingerprint in every stand-in and every run, and
 * tests can compute what to expect; different numbers differ. Spaces and dashes are ignored and
 * an empty number is the prefilled 4242…, as on the checkout page.
 */
export function cardFingerprint(cardNumber: string): string {
  const hash = createHash('sha256')
    .update(`stand-in card fingerprint:${cardDigits(cardNumber)}`)
    .digest();
  let fingerprint = '';
  for (let i = 0; i < 16; i++) fingerprint += FINGERPRINT_ALPHABET[hash[i]! % FINGERPRINT_ALPHABET.length];
  return fingerprint;
}

/** What a charge to `card` reports about the card; only the number is collected, the rest is fixed. */
export function cardDetails(card: string | undefined): CardDetails {
  const digits = cardDigits(card);
  return {
    brand: cardBrand(digits),
    last4: digits.slice(-4),
    fingerprint: cardFingerprint(digits),
    // The page asks for no expiry; a fixed date in the future keeps charges reproducible.
    exp_month: 12,
    exp_year: 2040,
    funding: 'credit',
    country: 'US',
  };
}

/** The brand from the number's leading digits (the IIN ranges Stripe's test cards use). */
function cardBrand(digits: string): CardBrand {
  if (digits.startsWith('4')) return 'visa';
  if (/^(5[1-5]|2[2-7])/.test(digits)) return 'mastercard';
  if (/^3[47]/.test(digits)) return 'amex';
  if (/^(6011|65|64[4-9])/.test(digits)) return 'discover';
  return 'unknown';
}
