import '../../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const READY_PREFIX = 'STACK_READY ';

/** One embedded Postgres and one Temporal dev server for the whole test run. */
export default async function globalSetup(): Promise<void> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'dev/stack-main.ts'],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  (globalThis as { __stack?: typeof child }).__stack = child;
  const ready = await new Promise<{ databaseUrl: string; temporalAddress: string }>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('test stack did not start in 180 s')), 180_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.startsWith(READY_PREFIX));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(READY_PREFIX.length)));
      }
    });
    child.once('exit', (code) => reject(new Error(`test stack exited with code ${code}`)));
  });
  process.env.DATABASE_URL = ready.databaseUrl;
  process.env.TEMPORAL_ADDRESS = ready.temporalAddress;
}
