import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseEnv } from '../../config/env';

describe('configuration', () => {
  test('when nothing is set, then the embedded defaults apply', () => {
    expect(parseEnv({})).toMatchObject({
      PORT: 3000,
      HOST: '127.0.0.1',
      TEMPORAL_NAMESPACE: 'default',
      DATA_DIR: '.data',
    });
    expect(parseEnv({}).DATABASE_URL).toBeUndefined();
  });

  test.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['TEMPORAL_ADDRESS', 'no-port'],
    ['SMTP_URL', 'http://mail'],
    ['ADMIN_API_KEY', 'short'],
  ])('when %s=%s, then parsing fails naming the variable', (name, value) => {
    expect(() => parseEnv({ [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name}: `));
  });

  test('when a process starts with a bad value, then it stops with one clear line', () => {
    const root = path.resolve(__dirname, '../..');
    const result = spawnSync(
      process.execPath,
      [path.join(root, 'node_modules/tsx/dist/cli.mjs'), 'dev/start.ts'],
      {
        cwd: root,
        env: { ...process.env, DATABASE_URL: '', TEMPORAL_ADDRESS: '', PORT: 'not-a-port' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^invalid configuration: PORT: .+$/);
  });
});
