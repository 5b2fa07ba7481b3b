import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startInfrastructure } from './stack';

/**
 * The test run's infrastructure as a child process: jest's global setup starts it, reads the
 * READY line, and stops it with SIGTERM. If jest dies, our stdin closes and we stop anyway,
 * so no postgres or temporal process outlives the run.
 */
export const READY_PREFIX = 'STACK_READY ';

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'credits-test-'));
  const errors: string[] = [];
  const infra = await startInfrastructure({
    dataDir,
    temporalNamespace: 'default',
    temporalCliPath: process.env.TEMPORAL_CLI_PATH || undefined,
    temporalPorts: { uiPort: null },
    persistTemporal: false,
    log: (line) => {
      if (/FATAL|PANIC/.test(line)) errors.push(line);
    },
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await infra.stop();
    await rm(dataDir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.stdout.write(
    `${READY_PREFIX}${JSON.stringify({ databaseUrl: infra.databaseUrl, temporalAddress: infra.temporalAddress, errors })}\n`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
