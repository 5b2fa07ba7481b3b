import { randomUUID } from 'node:crypto';
import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { Conflict, IdempotencyConflict, InsufficientCredits } from '../../domain';
import { closeTestLedger, fundedUser, openTestLedger } from '../support/db';

/**
 * A reversal that caps what it takes back out of withdrawable (earned) accounts: a creator who
 * spent their share cannot block the payer's refund. The creator gives back what their earned
 * bucket has under its lock, the rest is the shortfall, and the payer's legs withhold it: the
 * reversal pays out of the system account exactly what it takes back into it.
 */
let sql: Sql;
let ledger: Ledger;

beforeAll(async () => {
  ({ sql, ledger } = await openTestLedger());
});
afterAll(() => closeTestLedger({ sql, ledger }));

/** A payer charged `amount` for a creator's agent, `share` of it paid on to the creator. */
async function chargeWithShare(amount: number, share: number) {
  const { user: payer } = await fundedUser(sql, ledger, 100);
  const { user: creator } = await fundedUser(sql, ledger, 0);
  const key = `usage:${payer.id}:${randomUUID()}`;
  await ledger.debit({
    idempotencyKey: key,
    userId: payer.id,
    amount,
    kind: 'usage:conversation',
    agentId: 'agent-cap',
    cause: { type: 'usage_event', id: key },
    share: { userId: creator.id, amount: share, clearSeconds: 3600 },
  });
  const reversal = {
    idempotencyKey: `usage-reversal:${key}`,
    operationKey: key,
    kind: 'usage_reversal',
    capWithdrawable: true,
  };
  return { payer, creator, key, reversal };
}

/** The creator spends `credits` of what they earned (their only credits). */
async function creatorSpends(creatorId: string, credits: number) {
  await ledger.debit({
    idempotencyKey: `spend:${randomUUID()}`,
    userId: creatorId,
    amount: credits,
    kind: 'usage:rag',
  });
}

async function reversalTransfers(key: string) {
  return sql<{ kind: string; amount: number; agent_id: string | null }[]>`
    SELECT kind, amount, agent_id FROM transfers WHERE operation_key = ${key} ORDER BY id`;
}

describe('a capped reversal', () => {
  test('when the creator still has the share, then charge and share go back in full, nothing short', async () => {
    const { payer, creator, key, reversal } = await chargeWithShare(40, 12);
    const result = await ledger.reverse(reversal);
    expect(result).toEqual({
      operationKey: key,
      amount: 52,
      transfers: 2,
      shortfall: 0,
      legs: [
        { kind: 'usage:conversation', amount: 40, reversed: 40, fromUserId: null, toUserId: payer.id },
        { kind: 'creator_share', amount: 12, reversed: 12, fromUserId: creator.id, toUserId: null },
      ],
    });
    expect((await ledger.balance(payer.id)).available).toBe(100);
    expect((await ledger.balance(creator.id)).byBucket.earned.posted).toBe(0);
    expect(await reversalTransfers(reversal.idempotencyKey)).toEqual([
      { kind: 'usage_reversal', amount: 40, agent_id: 'agent-cap' },
      { kind: 'usage_reversal', amount: 12, agent_id: 'agent-cap' },
    ]);
  });

  test('when the creator spent part of the share, then the creator gives what is left and the payer gets the charge less the shortfall', async () => {
    const { payer, creator, reversal } = await chargeWithShare(40, 12);
    await creatorSpends(creator.id, 7);
    const result = await ledger.reverse(reversal);
    expect(result).toMatchObject({ amount: 38, transfers: 2, shortfall: 7 });
    expect(result.legs!.map((l) => l.reversed)).toEqual([33, 5]);
    expect((await ledger.balance(payer.id)).available).toBe(93);
    expect((await ledger.balance(creator.id)).byBucket.earned).toMatchObject({ posted: 0, available: 0 });
  });

  test('when the creator spent all of it, then only the charge less the share moves, the share is all shortfall, and it stays reversed once', async () => {
    const { payer, creator, key, reversal } = await chargeWithShare(40, 12);
    await creatorSpends(creator.id, 12);
    const result = await ledger.reverse(reversal);
    expect(result).toMatchObject({ amount: 28, transfers: 1, shortfall: 12 });
    expect(await reversalTransfers(reversal.idempotencyKey)).toEqual([
      { kind: 'usage_reversal', amount: 28, agent_id: 'agent-cap' },
    ]);
    expect((await ledger.balance(payer.id)).available).toBe(88);
    expect((await ledger.balance(creator.id)).posted).toBe(0);
    await expect(ledger.reverse({ ...reversal, idempotencyKey: `again:${key}` })).rejects.toBeInstanceOf(
      Conflict,
    );
  });

  test('when part of the share is held for a withdrawal, then the hold is left alone and only the rest comes back', async () => {
    const { creator, reversal } = await chargeWithShare(40, 12);
    const holdId = randomUUID();
    await ledger.hold({
      idempotencyKey: `hold:${holdId}`,
      holdId,
      userId: creator.id,
      amount: 10,
      kind: 'withdrawal',
      to: 'withdrawals',
      expiresInSeconds: 3600,
      bucket: 'earned',
    });
    expect(await ledger.reverse(reversal)).toMatchObject({ amount: 32, shortfall: 10 });
    expect((await ledger.balance(creator.id)).byBucket.earned).toMatchObject({
      posted: 10,
      held: 10,
      available: 0,
    });
    await ledger.voidHold({ idempotencyKey: `void:${holdId}`, holdId });
  });

  test('when it is asked again with the same key, then it answers the first result and moves nothing', async () => {
    const { creator, reversal } = await chargeWithShare(40, 12);
    await creatorSpends(creator.id, 4);
    const first = await ledger.reverse(reversal);
    expect(first).toMatchObject({ amount: 44, shortfall: 4 });
    // The creator has credits again: a replay still takes nothing more.
    await ledger.credit({
      idempotencyKey: `more:${creator.id}`,
      userId: creator.id,
      amount: 20,
      from: 'grants',
      bucket: 'earned',
      kind: 'grant',
    });
    expect(await ledger.reverse(reversal)).toEqual(first);
    expect(await reversalTransfers(reversal.idempotencyKey)).toHaveLength(2);
    expect((await ledger.balance(creator.id)).byBucket.earned.posted).toBe(20);
  });

  test('when ten requests with the same key race, then it moves once and all of them answer that', async () => {
    const { payer, creator, reversal } = await chargeWithShare(40, 12);
    const results = await Promise.all(Array.from({ length: 10 }, () => ledger.reverse(reversal)));
    for (const r of results) expect(r).toEqual(results[0]);
    expect(await reversalTransfers(reversal.idempotencyKey)).toHaveLength(2);
    expect((await ledger.balance(payer.id)).available).toBe(100);
    expect((await ledger.balance(creator.id)).posted).toBe(0);
  });

  test('when the same key asks without the cap, then it is another request: an idempotency conflict', async () => {
    const { reversal } = await chargeWithShare(40, 12);
    await ledger.reverse(reversal);
    await expect(ledger.reverse({ ...reversal, capWithdrawable: false })).rejects.toBeInstanceOf(
      IdempotencyConflict,
    );
  });
});

describe('withdrawable credits after a reversal', () => {
  test('when a share still clearing is taken back, then what had cleared stays withdrawable, and once it clears nothing more does', async () => {
    const { user: payer } = await fundedUser(sql, ledger, 100);
    const { user: creator } = await fundedUser(sql, ledger, 0);
    const charge = async (share: number, clearSeconds: number) => {
      const key = `usage:${payer.id}:${randomUUID()}`;
      await ledger.debit({
        idempotencyKey: key,
        userId: payer.id,
        amount: 40,
        kind: 'usage:conversation',
        share: { userId: creator.id, amount: share, clearSeconds },
      });
      return key;
    };
    await charge(12, 0);
    const clearing = await charge(9, 2);
    expect((await ledger.balance(creator.id)).byBucket.earned).toMatchObject({
      posted: 21,
      withdrawable: 12,
    });
    await ledger.reverse({
      idempotencyKey: `usage-reversal:${clearing}`,
      operationKey: clearing,
      kind: 'usage_reversal',
      capWithdrawable: true,
    });
    expect((await ledger.balance(creator.id)).byBucket.earned).toMatchObject({
      posted: 12,
      withdrawable: 12,
    });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expect((await ledger.balance(creator.id)).byBucket.earned).toMatchObject({
      posted: 12,
      withdrawable: 12,
    });
  });
});

describe('without the cap', () => {
  test('when the creator spent the share, then the reversal is refused whole and nothing moves', async () => {
    const { payer, creator, reversal } = await chargeWithShare(40, 12);
    await creatorSpends(creator.id, 7);
    await expect(ledger.reverse({ ...reversal, capWithdrawable: undefined })).rejects.toBeInstanceOf(
      InsufficientCredits,
    );
    expect((await ledger.balance(payer.id)).available).toBe(60);
    expect((await ledger.balance(creator.id)).byBucket.earned.available).toBe(5);
  });

  test('when the cap is asked for but the account that cannot give back is not withdrawable, then it is still refused whole', async () => {
    const { user } = await fundedUser(sql, ledger, 0);
    const key = `gift:${user.id}`;
    await ledger.credit({ idempotencyKey: key, userId: user.id, amount: 30, from: 'grants', kind: 'grant' });
    await creatorSpends(user.id, 25);
    await expect(
      ledger.reverse({
        idempotencyKey: `take-back:${key}`,
        operationKey: key,
        kind: 'grant_reversal',
        capWithdrawable: true,
      }),
    ).rejects.toBeInstanceOf(InsufficientCredits);
    expect((await ledger.balance(user.id)).available).toBe(5);
  });
});
