import '../config/runtime'; // first: stops a start on an unsupported Node.js with one line
import { loadEnvOrExit } from '../config/env';
import { migrate } from './migrate';
import { closePool, createPool } from './pool';

async function main(): Promise<void> {
  const env = loadEnvOrExit();
  if (!env.DATABASE_URL) {
    console.error('invalid configuration: DATABASE_URL: required for npm run migrate');
    process.exit(1);
  }
  const sql = createPool(env.DATABASE_URL, { max: 1 });
  const applied = await migrate(sql);
  console.log(applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
  await closePool(sql);
}

void main();
