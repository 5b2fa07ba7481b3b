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

/** The postmaster of the embedded Postgres under `dataDir` (`postgres -D <dataDir>/postgres ...`). */
function postmasterPid(dataDir: string): number {
  const line = processesMentioning(`-D ${path.join(dataDir, 'postgres')}`)[0];
  if (!line) throw new Error(`no postgres running under ${dataDir}`);
  return Number(line.trim().split(/\s+/)[0]);
}

/** npm start as a person runs it, with everything it prints collected. */
function npmStart(env: Record<string, string>) {
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'dev/start.ts'],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => output,
    /** Resolves once `pattern` has been printed `times` times in all; fails on exit or timeout. */
    async waitFor(pattern: RegExp, timeoutMs: number, times = 1): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      const global = new RegExp(pattern.source, `${pattern.flags.replace('g', '')}g`);
      while ((output.match(global) ?? []).length < times) {
        if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${output}`);
        if (Date.now() > deadline)
          throw new Error(`no ${pattern} ×${times} in ${timeoutMs} ms; output:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return output;
    },
  };
}

/** The whole embedded stack, as a person starts it: URLs printed, everything gone after SIGTERM. */
test('when npm start runs with no configuration, then it prints working URLs and SIGTERM leaves no process behind', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'credits-start-'));
  const port = await freePort();
  const start = npmStart({ DATABASE_URL: '', TEMPORAL_ADDRESS: '', PORT: String(port), DATA_DIR: dataDir });
  try {
    const output = await start.waitFor(/Ctrl-C stops everything/, 90_000);
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
    start.child.kill('SIGTERM');
    await start.exited;
  }
  // postgres runs with `-D <dataDir>/postgres`, temporal with `--db-filename <dataDir>/temporal.db`
  expect(processesMentioning(dataDir)).toEqual([]);
  await rm(dataDir, { recursive: true, force: true });
}, 120_000);

/**
 * Its embedded Postgres killed (kill -9 of the postmaster): npm start starts it again and the API
 * works again by itself; killed over and over (a crash loop), npm start stops everything with one
 * clear line instead of sitting broken.
 */
test('when npm start loses its Postgres, then it restarts it and the API recovers; in a crash loop it exits saying why', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'credits-start-'));
  const port = await freePort();
  const start = npmStart({ DATABASE_URL: '', TEMPORAL_ADDRESS: '', PORT: String(port), DATA_DIR: dataDir });
  const api = `http://127.0.0.1:${port}`;
  try {
    await start.waitFor(/Ctrl-C stops everything/, 90_000);
    const signUp = await fetch(`${api}/v1/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: `restart-${Date.now()}@example.test` }),
    });
    expect(signUp.status).toBe(201);
    const { apiKey } = (await signUp.json()) as { apiKey: string };

    const killed = performance.now();
    process.kill(postmasterPid(dataDir), 'SIGKILL');
    await start.waitFor(/Postgres was killed \(SIGKILL\); restarting it/, 10_000);
    await start.waitFor(/Postgres is back on port/, 30_000);
    // The API finds it again by itself: health, and a read that needs the database.
    let healthy = false;
    while (!healthy && performance.now() - killed < 30_000) {
      healthy = (await fetch(`${api}/healthz`)).status === 200;
      if (!healthy) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(healthy).toBe(true);
    console.info(
      `npm start: Postgres killed → API healthy again in ${Math.round(performance.now() - killed)} ms`,
    );
    const balance = await fetch(`${api}/v1/balance`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(balance.status).toBe(200);

    // A crash loop: more than five deaths in a minute and it gives up, saying so.
    for (let death = 2; death <= 6; death++) {
      await start.waitFor(/Postgres is back on port/, 30_000, death - 1);
      process.kill(postmasterPid(dataDir), 'SIGKILL');
    }
    let timer: NodeJS.Timeout | undefined;
    const stillRunning = new Promise((resolve) => {
      timer = setTimeout(() => resolve('still running after 30 s'), 30_000);
    });
    expect(await Promise.race([start.exited, stillRunning])).toBe(1);
    clearTimeout(timer);
    console.info(
      start
        .output()
        .split('\n')
        .filter((line) => /Postgres (was|is back)|stopping/.test(line))
        .join('\n'),
    );
    expect(start.output()).toMatch(
      /\[start\] Postgres was killed \(SIGKILL\), its 6th death within a minute; stopping everything\./,
    );
  } finally {
    if (start.child.exitCode === null) {
      start.child.kill('SIGTERM');
      await start.exited;
    }
  }
  expect(processesMentioning(dataDir)).toEqual([]);
  await rm(dataDir, { recursive: true, force: true });
}, 240_000);
