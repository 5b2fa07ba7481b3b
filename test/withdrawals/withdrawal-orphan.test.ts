import { insertWithdrawal } from '../../db/withdrawals';
import { startTestApp, type TestApp } from '../support/app';
import { startTestWorker, type TestWorker } from '../support/worker';
import { withdrawalsApi } from './support';

/**
 * A withdrawal request that died between recording the withdrawal (its credits held) and starting
 * its workflow, whose client never retried: the operator can still decide it, and it is paid once.
 */
let app: TestApp;
let worker: TestWorker;
let w: ReturnType<typeof withdrawalsApi>;

beforeAll(async () => {
  app = await startTestApp();
  worker = await startTestWorker(app);
  w = withdrawalsApi(app);
});
afterAll(async () => {
  await worker?.stop();
  await app?.close();
});

test('when a pending withdrawal has no workflow, then approving it starts the workflow and pays it once', async () => {
  const creator = await w.creator(2000);
  const id = crypto.randomUUID();
  // What requestWithdrawal does before it starts the workflow, and no more (the process died there).
  await app.ledger.hold({
    idempotencyKey: `withdrawal:${id}`,
    holdId: id,
    userId: creator.id,
    amount: 1000,
    kind: 'withdrawal',
    to: 'withdrawals',
    bucket: 'earned',
    withdrawableOnly: true,
    expiresInSeconds: 3600,
    cause: { type: 'withdrawal', id },
  });
  await insertWithdrawal(app.sql, {
    id,
    userId: creator.id,
    credits: 1000,
    amountCents: 1000,
    currency: 'usd',
    holdId: id,
    destination: creator.accountId!,
    expiresAt: new Date(Date.now() + 3600_000).toISOString(),
  });

  const approved = await w.decide(id, 'approve');
  expect(approved.status).toBe(200);
  expect((await w.until(creator.apiKey, id, 'paid')).credits).toBe(1000);
  expect(w.transfersOf(id)).toHaveLength(1);
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 1000, held: 0 });
  // Deciding again is the usual 409.
  expect((await w.decide(id, 'reject')).status).toBe(409);
});
