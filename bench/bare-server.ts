import express from 'express';
import { listen, type RunningServer, registerFastPath } from '../api/server';

/**
 * The HTTP floor for bench:usage: the same server plumbing (`listen`, a fast path before
 * Express) answering POST /v1/usage with a fixed charge of the real answer's shape, after reading
 * and parsing the body. No auth, pricing or ledger: what this machine can serve under the same
 * load generator, measured in the same run.
 */
export function bareUsageServer(): Promise<RunningServer> {
  const app = express();
  registerFastPath(app, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { eventId?: unknown };
      const text = JSON.stringify({
        eventId: body.eventId,
        charged: 3,
        balance: 999_997,
        feature: 'conversation',
        rateCardVersion: 1,
        breakdown: [{ item: 'conversation message', credits: 3 }],
        replayed: false,
      });
      res.writeHead(201, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    });
    return true;
  });
  return listen(app, 0, '127.0.0.1');
}
