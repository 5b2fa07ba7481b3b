import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * npm start's rule for promises nobody awaited (dev/postgres-rejections.ts), in a real process:
 * one failed because Postgres was away (a real postgres.js error) is logged and the process
 * carries on; any other still ends it, as Node's default does.
 */
const child = path.join(__dirname, '../support/unawaited-rejection-child.ts');
const run = (kind: string) =>
  spawnSync(process.execPath, ['--import', 'tsx', child, kind], { encoding: 'utf8', timeout: 20_000 });

test('when a database call nobody awaited fails because Postgres is away, then npm start logs it and carries on', () => {
  const result = run('postgres-away');
  expect(result.stdout).toMatch(/warned: a database call nobody awaited failed .*\(ECONNREFUSED\)/);
  expect(result.stdout).toContain('still running');
  expect(result.status).toBe(0);
});

test('when any other promise nobody awaited fails, then the process ends as Node would end it', () => {
  const result = run('bug');
  expect(result.stdout).not.toContain('still running');
  expect(result.stderr).toContain('a bug that must not be swallowed');
  expect(result.status).not.toBe(0);
});
