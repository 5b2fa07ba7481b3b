import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import type { FastPath } from './usage-fast-path';

/** Routes an app serves before Express sees the request (set by createApp). */
const fastPaths = new WeakMap<Express, FastPath>();

export function registerFastPath(app: Express, fastPath: FastPath): void {
  fastPaths.set(app, fastPath);
}

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on `port` (0 = any free port) and returns a closer that waits for open sockets. */
export function listen(app: Express, port: number, host: string): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    const fast = fastPaths.get(app);
    const server: Server = createServer((req, res) => {
      if (!fast?.(req, res)) app(req, res);
    });
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({
        url: `http://${host}:${bound}`,
        port: bound,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
