/**
 * A process with npm start's unhandled-rejection rule (dev/postgres-rejections.ts) that leaves one
 * rejection unawaited, of the kind named by argv[2]: `postgres-away` (a real postgres.js error
 * from a server that is not there) or `bug` (any other error). Prints "still running" and exits
 * 0 if it survives half a second.
 */
import { createPool } from '../../db/pool';
import { surviveUnawaitedPostgresOutages } from '../../dev/postgres-rejections';

async function main() {
  surviveUnawaitedPostgresOutages((message, error) =>
    console.log(`warned: ${message} (${(error as { code?: string }).code})`),
  );
  if (process.argv[2] === 'postgres-away') {
    // Port 1 on this host: nothing listens there, so the connection is refused.
    const sql = createPool('postgres://nobody:none@127.0.0.1:1/none', { max: 1 });
    const error = await sql`SELECT 1`.then(
      () => null,
      (e: unknown) => e,
    );
    void Promise.reject(error);
  } else {
    void Promise.reject(new Error('a bug that must not be swallowed'));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  console.log('still running');
  process.exit(0);
}

void main();
