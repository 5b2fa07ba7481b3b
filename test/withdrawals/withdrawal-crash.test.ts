import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestApp, type TestApp } from '../support/app';
import { startWorkerProcess, type WorkerProcess } from '../support/worker-process';
import { withdrawalsApi } from './support';

/**
 * The payout's worst moment: Stripe has made the transfer, the worker dies before it hears so
 * (so before the ledger post). The retried activity on a new worker must get the same transfer
 * back (the withdrawal's idempotency key), post once, and end paid: one transfer, one debit.
 */

/** What the stand-in sees from the workers: every transfer request's Idempotency-Key. */
interface StripeTap {
  port: number;
  transferKeys: string[];
  /** Runs once, after Stripe answered the first transfer and before the worker may hear it. */
  onFirstTransfer(act: () => Promise<void>): void;
  close(): Promise<void>;
}

/** A pass-through proxy in front of the stand-in for worker processes (their STRIPE_PORT). */
async function tapStripe(target: { host: string; port: number }): Promise<StripeTap> {
  const transferKeys: string[] = [];
  let firstTransfer: (() => Promise<void>) | null = null;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isTransfer = req.method === 'POST' && req.url === '/v1/transfers';
      if (isTransfer) transferKeys.push(String(req.headers['idempotency-key']));
      const upstream = request(
        { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', async () => {
            const act = isTransfer ? firstTransfer : null;
            if (act) {
              firstTransfer = null;
              await act();
              // The worker is gone: the answer never reaches it.
              res.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers as IncomingHttpHeaders);
            res.end(Buffer.concat(body));
          });
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    transferKeys,
    onFirstTransfer: (act) => {
      firstTransfer = act;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let app: TestApp;
let tap: StripeTap;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  app = await startTestApp();
  tap = await tapStripe({ host: app.standIn.host, port: app.standIn.port });
});
afterAll(async () => {
  for (const worker of workers) await worker.kill();
  await tap?.close();
  await app?.close();
});

test('when the worker is killed after Stripe made the transfer and before the post, then the withdrawal is paid exactly once', async () => {
  const w = withdrawalsApi(app);
  const viaTap = { STRIPE_PORT: String(tap.port) };
  const doomed = await startWorkerProcess(app, viaTap);
  workers.push(doomed);
  const creator = await w.creator(3000);
  const { id } = (await w.withdraw(creator.apiKey, { credits: 2000 })).body;

  let killedWith = -1;
  tap.onFirstTransfer(async () => {
    killedWith = w.transfersOf(id).length;
    await doomed.kill();
  });
  // The operator's answer comes back while the payout is stuck: approved, not yet paid.
  const approved = await w.decide(id, 'approve');
  expect(approved.status).toBe(200);
  expect(approved.body).toMatchObject({ decision: 'approve', status: 'pending_approval' });
  await new Promise<void>((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (doomed.child.signalCode === 'SIGKILL') return resolve();
      if (Date.now() - started > 20_000) return reject(new Error('the worker was never killed'));
      setTimeout(check, 50);
    };
    check();
  });
  // Stripe had made the transfer when the worker died; the ledger had not moved.
  expect(killedWith).toBe(1);
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 3000, held: 2000 });
  expect((await w.get(creator.apiKey, id)).body.status).toBe('pending_approval');

  // A new worker retries the transfer once the dead attempt times out (30 s), then posts.
  workers.push(await startWorkerProcess(app, viaTap));
  const paid = await w.until(creator.apiKey, id, 'paid', 80_000);

  expect(tap.transferKeys).toEqual([`withdrawal:${id}`, `withdrawal:${id}`]);
  const transfers = w.transfersOf(id);
  expect(transfers).toHaveLength(1);
  expect(paid.transferId).toBe(transfers[0]!.id);
  expect(await w.earned(creator.apiKey)).toMatchObject({ posted: 1000, held: 0, withdrawable: 1000 });
  const debits = await app.sql<{ amount: number }[]>`
    SELECT t.amount FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
    WHERE a.user_id = ${creator.id} AND t.cause_type = 'withdrawal' AND t.cause_id = ${id}`;
  expect(debits).toEqual([{ amount: 2000 }]);
}, 150_000);
