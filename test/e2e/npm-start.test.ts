import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../dev/ports';

const ROOT = path.resolve(__dirname, '../..');

function processesMentioning(text: string): string[] {
  const out = execSync('ps -eo pid,args', { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} in ${timeoutMs} ms; output:\n${seen}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = seen.split('\n').find((line) => pattern.test(line));
      if (match) {
        clearTimeout(timer);
        resolve(seen);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`npm start exited (${code}):\n${seen}`)));
  });
}

/** The whole embedded stack, as a person starts it: URLs printed, everything gone after SIGTERM. */
test('when npm start runs with no configuration, then it prints working URLs and SIGTERM leaves no process behind', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'credits-start-'));
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'dev/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', TEMPORAL_ADDRESS: '', PORT: String(port), DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const output = await waitForLine(child, /Ctrl-C stops everything/, 90_000);
    const api = /API:\s+(http:\/\/\S+)/.exec(output)![1]!;
    const ui = /Temporal Web UI:\s+(http:\/\/\S+)/.exec(output)![1]!;
    expect(api).toBe(`http://127.0.0.1:${port}`);
    const health = await fetch(`${api}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
    const page = await fetch(ui);
    expect(page.status).toBe(200);
    expect(processesMentioning(dataDir).length).toBeGreaterThan(0);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  // postgres runs with `-D <dataDir>/postgres`, temporal with `--db-filename <dataDir>/temporal.db`
  expect(processesMentioning(dataDir)).toEqual([]);
  await rm(dataDir, { recursive: true, force: true });
}, 120_000);
