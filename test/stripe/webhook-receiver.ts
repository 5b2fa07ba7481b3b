import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * A minimal webhook endpoint for the stand-in's tests: it verifies each delivery exactly as the
 * real receiver must (`stripe.webhooks.constructEvent` on the raw body) and answers with
 * whatever status the test scripts, so retries can be provoked.
 */
export interface Received {
  event: Stripe.Event;
  /** The body as sent: what the signature covers. */
  raw: string;
  signature: string;
}

export interface WebhookReceiver {
  url: string;
  /** Verified deliveries, in arrival order. */
  received: Received[];
  /** Deliveries whose signature did not verify (should stay empty). */
  rejected: string[];
  /** Answer the next `n` deliveries with `status` (e.g. 500) before answering 200 again. */
  failNext(n: number, status?: number): void;
  reset(): void;
  /** Resolves once `predicate` holds over the received deliveries, or rejects after `timeoutMs`. */
  waitFor(predicate: (received: Received[]) => boolean, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(secret: string): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const rejected: string[] = [];
  let failures: { remaining: number; status: number } = { remaining: 0, status: 500 };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const signature = String(req.headers['stripe-signature'] ?? '');
      if (failures.remaining > 0) {
        failures.remaining--;
        res.writeHead(failures.status).end();
        return;
      }
      try {
        const event = Stripe.webhooks.constructEvent(raw, signature, secret);
        received.push({ event, raw, signature });
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"received":true}');
      } catch (error) {
        rejected.push(error instanceof Error ? error.message : String(error));
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/webhooks/stripe`,
    received,
    rejected,
    failNext(n, status = 500) {
      failures = { remaining: n, status };
    },
    reset() {
      received.length = 0;
      rejected.length = 0;
      failures = { remaining: 0, status: 500 };
    },
    async waitFor(predicate, timeoutMs = 4000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) {
          throw new Error(
            `webhooks not received in ${timeoutMs} ms; got ${received.map((r) => r.event.type)}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return received;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
