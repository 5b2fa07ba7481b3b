import fc from 'fast-check';
import { creditsForRefundedCents } from '../../domain/purchases';

test('when part of a payment is refunded, then the credits called back are floor(credits × refunded / price)', () => {
  expect(creditsForRefundedCents(4500, 5000, 2500)).toBe(2250);
  expect(creditsForRefundedCents(4500, 5000, 1)).toBe(0); // less than one credit's worth
  expect(creditsForRefundedCents(10_000, 10_000, 3333)).toBe(3333);
  expect(creditsForRefundedCents(100_000, 80_000, 1)).toBe(1);
});

test('when more than the price is named, or nothing, then the call-back is capped at all credits and floored at none', () => {
  expect(creditsForRefundedCents(4500, 5000, 9999)).toBe(4500);
  expect(creditsForRefundedCents(4500, 5000, 0)).toBe(0);
  expect(creditsForRefundedCents(4500, 5000, -5)).toBe(0);
});

test('when a price is refunded in any number of parts, then the parts’ credits add up to exactly the purchase’s credits', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.integer({ min: 1, max: 100_000 }),
      fc.array(fc.integer({ min: 1, max: 100_000 }), { minLength: 1, maxLength: 10 }),
      (credits, price, cuts) => {
        // Cumulative totals as Stripe reports them, ending with the whole price.
        const totals = [...new Set(cuts.map((c) => c % price))].filter((c) => c > 0).sort((a, b) => a - b);
        totals.push(price);
        let before = 0;
        let sum = 0;
        for (const total of totals) {
          const step =
            creditsForRefundedCents(credits, price, total) - creditsForRefundedCents(credits, price, before);
          expect(step).toBeGreaterThanOrEqual(0);
          sum += step;
          before = total;
        }
        expect(sum).toBe(credits);
      },
    ),
  );
});
