import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { DEFAULT_EARNING_SETTINGS } from '../../app';
import { workflowIds } from '../../workflows/messages';
import { WithdrawalStatusKey } from '../../workflows/search-attributes';
import { sdkFor } from '../stripe/stand-in-setup';
import { ADMIN_KEY, signUp, startTestApp, type TestApp } from '../support/app';
import type { ErrorBody } from '../support/hostile';
import { waitFor } from '../support/wait';
import { startTestWorker, type TestWorker, workflowBundle } from '../support/worker';
import { withdrawalsApi } from './support';

/**
 * Withdrawals over real HTTP, a real worker, Postgres and the Stripe stand-in (DESIGN.md §11):
 * what is refused changes nothing, parallel requests never hold more than is withdrawable, an
 * approval pays once, decisions race to one outcome, failures and rejections give the credits back.
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
afterEach(() => app.standIn.transferFaults.reset());

const stripeSdk = () => sdkFor(app.standIn);

/** Withdrawal holds the ledger has for the user, by status. */
async function withdrawalHolds(userId: string) {
  return app.sql<{ status: string; amount: number }[]>`
    SELECT status, amount FROM holds WHERE user_id = ${userId} AND kind = 'withdrawal' ORDER BY created_at`;
}

test('when a creator asks for a payout account, then one Express account is made, onboarded on the stand-in page, and account.updated enables payouts', async () => {
  const user = await signUp(w.api);
  const first = await w.api.post<{ accountId: string; onboardingUrl: string; payoutsEnabled: boolean }>(
    '/v1/payout-account',
    {},
    user.apiKey,
  );
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ accountId: expect.stringMatching(/^acct_/), payoutsEnabled: false });
  const account = app.standIn.account(first.body.accountId);
  expect(account).toMatchObject({ type: 'express', email: user.email, metadata: { userId: user.id } });
  // Asking again: the same account, a fresh single-use link.
  const again = await w.api.post<{ accountId: string; onboardingUrl: string }>(
    '/v1/payout-account',
    {},
    user.apiKey,
  );
  expect(again.body.accountId).toBe(first.body.accountId);
  expect(again.body.onboardingUrl).not.toBe(first.body.onboardingUrl);
  // It takes no fields: one sent is refused, not ignored.
  for (const [body, field] of [
    [{ country: 'US' }, 'country'],
    [[], 'body'],
  ] as const) {
    const refused = await w.api.post<ErrorBody>('/v1/payout-account', body, user.apiKey);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(new RegExp(`^${field}: `));
  }

  const pressed = await fetch(again.body.onboardingUrl, {
    method: 'POST',
    body: new URLSearchParams({ action: 'complete' }),
    redirect: 'manual',
  });
  expect(pressed.status).toBe(303);
  expect(pressed.headers.get('location')).toBe(`${app.url}/usercredits?payout=return`);
  // No further POST: the webhook alone brings the news.
  await waitFor('payouts enabled by account.updated', async () => {
    const res = await w.api.get<{ payoutsEnabled: boolean }>('/v1/payout-account', user.apiKey);
    return res.body.payoutsEnabled;
  });
  const [row] = await app.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM payout_accounts WHERE user_id = ${user.id}`;
  expect(row!.n).toBe(1);
});

test('when a withdrawal is refused (no payout account, below the minimum, above what is withdrawable, not cleared, not earned), then nothing changes', async () => {
  const creator = await w.creator(1500, { onboarded: false });
  // Earned but not cleared, and purchased credits: spendable, never withdrawable.
  await w.earn(creator.id, 4000, 3600);
  await app.ledger.credit({
    idempotencyKey: `test-purchased:${creator.id}`,
    userId: creator.id,
    amount: 9000,
    from: 'grants',
    bucket: 'purchased',
    kind: 'grant',
  });
  const before = await w.api.get('/v1/balance', creator.apiKey);
  expect(before.body).toMatchObject({ buckets: { earned: { posted: 5500, withdrawable: 1500 } } });

  const noAccount = await w.withdraw(creator.apiKey, { credits: 1000 });
  expect(noAccount.status).toBe(409);
  expect(noAccount.body.error.code).toBe('payout_account_required');

  // Made but not onboarded: still refused.
  await w.api.post('/v1/payout-account', {}, creator.apiKey);
  expect((await w.withdraw(creator.apiKey, { credits: 1000 })).body.error.code).toBe(
    'payout_account_required',
  );
  await w.onboard(creator.apiKey);

  const belowMinimum = await w.withdraw(creator.apiKey, { credits: 999 });
  expect(belowMinimum.status).toBe(400);
  expect(belowMinimum.body.error).toMatchObject({ code: 'validation_error' });
  expect(belowMinimum.body.error.message).toMatch(/^credits: .*1000/);

  const aboveWithdrawable = await w.withdraw(creator.apiKey, { credits: 1501 });
  expect(aboveWithdrawable.status).toBe(402);
  expect(aboveWithdrawable.body.error.code).toBe('insufficient_withdrawable');

  for (const body of [
    {},
    { credits: '1000' },
    { credits: 1000.5 },
    { credits: -1000 },
    { credits: 1000, x: 1 },
  ]) {
    const bad = await w.withdraw(creator.apiKey, body);
    expect(bad.status).toBe(400);
  }

  expect((await w.api.get('/v1/balance', creator.apiKey)).body).toEqual(before.body);
  expect((await w.api.get<{ data: unknown[] }>('/v1/withdrawals', creator.apiKey)).body.data).toEqual([]);
  expect(await withdrawalHolds(creator.id)).toEqual([]);
  expect(app.standIn.transfers.filter((t) => t.destination === creator.accountId)).toEqual([]);
});

test('when an operator approves a withdrawal, then Stripe transfers it once with the withdrawal key, the hold is posted and it is paid', async () => {
  const creator = await w.creator(2500);
  const created = await w.withdraw(creator.apiKey, { credits: 1200 }, 'cash-out-1');
  expect(created.status).toBe(201);
  expect(created.body).toEqual(
    expect.objectContaining({
      id: expect.any(String),
      credits: 1200,
      amountCents: 1200 * DEFAULT_EARNING_SETTINGS.withdrawals.creditValueCents,
      currency: 'usd',
      status: 'pending_approval',
      createdAt: expect.any(String),
    }),
  );
  const { id } = created.body;
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 2500, held: 1200, withdrawable: 1300 });

  // Operators find it in the Web UI by WithdrawalStatus, and in the admin list.
  const handle = app.temporal.workflow.getHandle(workflowIds.withdrawal(id));
  expect((await handle.describe()).typedSearchAttributes.get(WithdrawalStatusKey)).toBe('pending_approval');
  await waitFor('listed as pending in Temporal', async () => {
    const query = `WithdrawalStatus = "pending_approval" AND UserId = "${creator.id}"`;
    for await (const run of app.temporal.workflow.list({ query }))
      if (run.workflowId === handle.workflowId) return true;
    return false;
  });
  const pending = await w.api.get<{ data: { id: string; userId: string }[] }>(
    '/v1/admin/withdrawals?status=pending_approval',
    ADMIN_KEY,
  );
  expect(pending.body.data).toContainEqual(expect.objectContaining({ id, userId: creator.id }));

  const approved = await w.decide(id, 'approve');
  expect(approved.status).toBe(200);
  expect(approved.body).toMatchObject({ id, status: 'paid', decision: 'approve', userId: creator.id });

  const transfers = w.transfersOf(id);
  expect(transfers).toHaveLength(1);
  expect(transfers[0]).toMatchObject({ amount: 1200, currency: 'usd', destination: creator.accountId });
  expect(approved.body.transferId).toBe(transfers[0]!.id);
  // The transfer was made under the withdrawal's key: Stripe answers the same one for it again.
  const replayed = await stripeSdk().transfers.create(
    {
      amount: 1200,
      currency: 'usd',
      destination: creator.accountId!,
      transfer_group: `withdrawal:${id}`,
      metadata: { withdrawalId: id, userId: creator.id, credits: '1200' },
    },
    { idempotencyKey: `withdrawal:${id}` },
  );
  expect(replayed.id).toBe(transfers[0]!.id);
  expect(w.transfersOf(id)).toHaveLength(1);

  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 1300, held: 0, withdrawable: 1300 });
  expect(await withdrawalHolds(creator.id)).toEqual([{ status: 'posted', amount: 1200 }]);
  const [paidOut] = await app.sql<{ amount: number }[]>`
    SELECT sum(t.amount)::bigint AS amount FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
    WHERE a.system_name = 'withdrawals' AND t.cause_id = ${id}`;
  expect(paidOut!.amount).toBe(1200);
  expect((await w.get(creator.apiKey, id)).body).toMatchObject({
    status: 'paid',
    transferId: transfers[0]!.id,
  });
  expect((await handle.describe()).typedSearchAttributes.get(WithdrawalStatusKey)).toBe('paid');

  // A second decision, either way, is a conflict and changes nothing.
  for (const decision of ['approve', 'reject'] as const) {
    const again = await w.decide(id, decision);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
  }
  expect(w.transfersOf(id)).toHaveLength(1);

  // The same Idempotency-Key names the same withdrawal; with another amount it is a conflict.
  const retried = await w.withdraw(creator.apiKey, { credits: 1200 }, 'cash-out-1');
  expect(retried.status).toBe(200);
  expect(retried.body).toMatchObject({ id, status: 'paid' });
  const conflict = await w.withdraw(creator.apiKey, { credits: 1100 }, 'cash-out-1');
  expect(conflict.status).toBe(409);
  expect(conflict.body.error.message).toBe(
    'idempotency key cash-out-1 was already used for a different request',
  );
  expect(w.transfersOf(id)).toHaveLength(1);

  await recordHistory(handle.workflowId);
});

/** The paid run's history is the replay test's fixture (UPDATE_HISTORIES=1 records it again). */
async function recordHistory(workflowId: string): Promise<void> {
  const fixture = path.join(__dirname, '../workflows/histories/withdrawal-paid.json');
  const handle = app.temporal.workflow.getHandle(workflowId);
  await handle.result();
  const history = await handle.fetchHistory();
  const bundle = { workflowBundle: { codePath: await workflowBundle() } };
  await Worker.runReplayHistory(bundle, history, workflowId);
  if (process.env.UPDATE_HISTORIES) await writeFile(fixture, historyToJSON(history));
  const saved = historyFromJSON(JSON.parse(await readFile(fixture, 'utf8')));
  await Worker.runReplayHistory(bundle, saved, 'withdrawal-fixture');
}

test('when withdrawals race for more than is withdrawable, then never more is held or paid than was withdrawable', async () => {
  const creator = await w.creator(3500);
  // Earned but not cleared: available to spend, so only the withdrawable rule can refuse.
  await w.earn(creator.id, 3000, 3600);
  const answers = await Promise.all(
    Array.from({ length: 6 }, (_, i) => w.withdraw(creator.apiKey, { credits: 1000 }, `race-${i}`)),
  );
  const statuses = answers.map((a) => a.status).sort();
  expect(statuses).toEqual([201, 201, 201, 402, 402, 402]);
  for (const refused of answers.filter((a) => a.status === 402))
    expect(refused.body.error.code).toBe('insufficient_withdrawable');
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 6500, held: 3000, withdrawable: 500 });

  const accepted = answers.filter((a) => a.status === 201).map((a) => a.body.id);
  const decided = await Promise.all(accepted.map((id) => w.decide(id, 'approve')));
  expect(decided.map((d) => d.body.status)).toEqual(['paid', 'paid', 'paid']);
  const paid = app.standIn.transfers.filter((t) => t.destination === creator.accountId);
  expect(paid.reduce((sum, t) => sum + t.amount, 0)).toBe(3000);
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 3500, held: 0, withdrawable: 500 });
});

test('when an approval races a rejection (and another approval), then one decision wins and the loser gets 409', async () => {
  const creator = await w.creator(4000);
  const first = (await w.withdraw(creator.apiKey, { credits: 1000 })).body.id;
  const second = (await w.withdraw(creator.apiKey, { credits: 1000 })).body.id;

  const [approve, reject] = await Promise.all([
    w.decide(first, 'approve'),
    w.decide(first, 'reject', { reason: 'racing' }),
  ]);
  expect([approve.status, reject.status].sort()).toEqual([200, 409]);
  const winner = approve.status === 200 ? approve : reject;
  const loser = approve.status === 200 ? reject : approve;
  expect(loser.body.error.code).toBe('conflict');
  const final = winner === approve ? 'paid' : 'rejected';
  expect((await w.until(creator.apiKey, first, final)).status).toBe(final);
  expect(w.transfersOf(first)).toHaveLength(final === 'paid' ? 1 : 0);

  const both = await Promise.all([w.decide(second, 'approve'), w.decide(second, 'approve')]);
  expect(both.map((b) => b.status).sort()).toEqual([200, 409]);
  await w.until(creator.apiKey, second, 'paid');
  expect(w.transfersOf(second)).toHaveLength(1);

  const paidCredits = (final === 'paid' ? 1000 : 0) + 1000;
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 4000 - paidCredits, held: 0 });
});

test('when an operator rejects a withdrawal, then the hold is voided, the credits are withdrawable again and the reason is shown', async () => {
  const creator = await w.creator(2000);
  const { id } = (await w.withdraw(creator.apiKey, { credits: 2000 })).body;
  expect(await w.earned(creator.apiKey)).toMatchObject({ held: 2000, withdrawable: 0 });
  const rejected = await w.decide(id, 'reject', { reason: 'identity check failed' });
  expect(rejected.status).toBe(200);
  expect(rejected.body).toMatchObject({
    status: 'rejected',
    reason: 'identity check failed',
    decision: 'reject',
  });
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 2000, held: 0, withdrawable: 2000 });
  expect(await withdrawalHolds(creator.id)).toEqual([{ status: 'voided', amount: 2000 }]);
  expect(w.transfersOf(id)).toEqual([]);
  expect((await w.decide(id, 'approve')).status).toBe(409);
  const badReason = await w.decide(id, 'reject', { reason: '' });
  expect(badReason.status).toBe(400);
});

test('when the withdrawal id is written in capital letters, then it names the same withdrawal, to its owner and to the operator', async () => {
  const creator = await w.creator(1500);
  const { id } = (await w.withdraw(creator.apiKey, { credits: 1500 })).body;
  const upper = id.toUpperCase();
  expect(upper).not.toBe(id);
  expect((await w.get(creator.apiKey, upper)).body).toMatchObject({ id, status: 'pending_approval' });
  const approved = await w.decide(upper, 'approve');
  expect(approved.status).toBe(200);
  expect(approved.body).toMatchObject({ id, status: 'paid', decision: 'approve' });
  expect(w.transfersOf(id)).toHaveLength(1);
  expect((await w.decide(upper, 'reject')).status).toBe(409);
});

test('when Stripe refuses the transfer, then the withdrawal fails with the reason and the credits come back', async () => {
  const creator = await w.creator(1500);
  const { id } = (await w.withdraw(creator.apiKey, { credits: 1500 })).body;
  app.standIn.transferFaults.failNext(1);
  const answered = await w.decide(id, 'approve');
  expect(answered.status).toBe(200);
  expect(answered.body.status).toBe('failed');
  expect(answered.body.reason).toMatch(/Stripe refused the transfer/);
  expect(w.transfersOf(id)).toEqual([]);
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 1500, held: 0, withdrawable: 1500 });
  expect(await withdrawalHolds(creator.id)).toEqual([{ status: 'voided', amount: 1500 }]);
  // The credits can be withdrawn again at once.
  const again = await w.withdraw(creator.apiKey, { credits: 1500 });
  expect(again.status).toBe(201);
  expect((await w.decide(again.body.id, 'approve')).body.status).toBe('paid');
});

test('when someone else asks, then withdrawals are not found; a user key on operator routes is 403', async () => {
  const owner = await w.creator(1000);
  const other = await signUp(w.api);
  const { id } = (await w.withdraw(owner.apiKey, { credits: 1000 })).body;
  expect((await w.get(other.apiKey, id)).status).toBe(404);
  expect((await w.api.get<{ data: unknown[] }>('/v1/withdrawals', other.apiKey)).body.data).toEqual([]);
  expect((await w.api.get<{ data: { id: string }[] }>('/v1/withdrawals', owner.apiKey)).body.data).toEqual([
    expect.objectContaining({ id }),
  ]);
  expect((await w.get(owner.apiKey, 'not-a-uuid')).status).toBe(400);
  expect((await w.api.get('/v1/admin/withdrawals', owner.apiKey)).status).toBe(403);
  expect((await w.decide(id, 'approve', {}, owner.apiKey)).status).toBe(403);
  expect((await w.decide(id, 'reject', {}, other.apiKey)).status).toBe(403);
  expect((await w.api.get('/v1/admin/withdrawals')).status).toBe(401);
  expect((await w.api.get('/v1/admin/withdrawals?status=nope', ADMIN_KEY)).status).toBe(400);
  expect((await w.decide('00000000-0000-4000-8000-000000000000', 'approve')).status).toBe(404);
  expect((await w.get(owner.apiKey, id)).body.status).toBe('pending_approval');
  expect((await w.decide(id, 'reject')).body.status).toBe('rejected');
});

describe('with a two-second decision window', () => {
  let shortApp: TestApp;
  let shortWorker: TestWorker;
  let s: ReturnType<typeof withdrawalsApi>;
  beforeAll(async () => {
    shortApp = await startTestApp({
      earning: { withdrawals: { ...DEFAULT_EARNING_SETTINGS.withdrawals, decisionSeconds: 2 } },
    });
    shortWorker = await startTestWorker(shortApp);
    s = withdrawalsApi(shortApp);
  });
  afterAll(async () => {
    await shortWorker?.stop();
    await shortApp?.close();
  });

  test('when nobody decides in time, then the withdrawal expires, its hold is released and a late approval is 409', async () => {
    const creator = await s.creator(1000);
    const { id } = (await s.withdraw(creator.apiKey, { credits: 1000 })).body;
    expect(await s.earned(creator.apiKey)).toMatchObject({ held: 1000, withdrawable: 0 });
    const expired = await s.until(creator.apiKey, id, 'expired');
    expect(expired.reason).toBe('not decided in time');
    expect(await s.earned(creator.apiKey)).toMatchObject({ posted: 1000, held: 0, withdrawable: 1000 });
    const late = await s.decide(id, 'approve');
    expect(late.status).toBe(409);
    expect(late.body.error.message).toMatch(/expired/);
    expect(s.transfersOf(id)).toEqual([]);
    const handle = shortApp.temporal.workflow.getHandle(workflowIds.withdrawal(id));
    expect((await handle.describe()).typedSearchAttributes.get(WithdrawalStatusKey)).toBe('expired');
  });
});

test('when there are more withdrawals than a page, then the lists page through them by cursor, each once, and a cursor from elsewhere is a 400 naming cursor', async () => {
  type Page = { data: { id: string; userId?: string }[]; nextCursor: string | null } & ErrorBody;
  const owner = await w.creator(3000);
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await w.withdraw(owner.apiKey, { credits: 1000 })).body.id);

  // The owner's list: newest first.
  const first = await w.api.get<Page>('/v1/withdrawals?limit=2', owner.apiKey);
  expect(first.body.data.map((d) => d.id)).toEqual([ids[2], ids[1]]);
  expect(first.body.nextCursor).toBe(ids[1]);
  const second = await w.api.get<Page>(
    `/v1/withdrawals?limit=2&cursor=${first.body.nextCursor!.toUpperCase()}`,
    owner.apiKey,
  );
  expect(second.body).toEqual({ data: [expect.objectContaining({ id: ids[0] })], nextCursor: null });

  // Another user's withdrawal, or none, is not a place in this list.
  const other = await signUp(w.api);
  const foreign = await w.api.get<Page>(`/v1/withdrawals?cursor=${ids[0]}`, other.apiKey);
  expect(foreign.status).toBe(400);
  expect(foreign.body.error.message).toMatch(/^cursor: /);
  const unknown = await w.api.get<Page>(
    '/v1/admin/withdrawals?cursor=00000000-0000-4000-8000-000000000000',
    ADMIN_KEY,
  );
  expect(unknown.status).toBe(400);
  expect(unknown.body.error.message).toMatch(/^cursor: /);

  // The operator's queue: oldest first; a cursor keeps its place after its withdrawal is decided.
  const seen: string[] = [];
  let cursor: string | null = null;
  let decided = false;
  do {
    const query: string = `/v1/admin/withdrawals?status=pending_approval&limit=1${cursor ? `&cursor=${cursor}` : ''}`;
    const page: Page = (await w.api.get<Page>(query, ADMIN_KEY)).body;
    seen.push(...page.data.map((d) => d.id));
    if (!decided && page.data[0]?.id === ids[0]) {
      expect((await w.decide(ids[0]!, 'reject')).body.status).toBe('rejected');
      decided = true;
    }
    cursor = page.nextCursor;
  } while (cursor);
  expect(seen.filter((id) => ids.includes(id))).toEqual(ids);
  expect(new Set(seen).size).toBe(seen.length);
});
