import express from 'express';
import { listen, type RunningServer, registerFastPath } from '../api/server';
import { onBody, writeJson } from '../api/usage-fast-path';

/**
 * The HTTP floor for bench:usage: the same server plumbing (`listen`, a fast path before
 * Express, the fast path's own body reading and JSON answer) answering POST /v1/usage with a
 * fixed charge of the real answer's shape, after parsing the body. No auth, pricing or ledger:
 * what this machine can serve under the same load generator, measured in the same run.
 */
export function bareUsageServer(): Promise<RunningServer> {
  const app = express();
  registerFastPath(app, (req, res) => {
    onBody(req, (text) => {
      const body = JSON.parse(text ?? '{}') as { eventId?: unknown };
      writeJson(res, 201, {
        eventId: body.eventId,
        charged: 3,
        balance: 999_997,
        feature: 'conversation',
        rateCardVersion: 1,
        breakdown: [{ item: 'conversation message', credits: 3 }],
        replayed: false,
      });
    });
    return true;
  });
  return listen(app, 0, '127.0.0.1');
}
