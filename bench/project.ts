/**
 * npm run bench:project — (1) per-task overhead of the project workflow plus the ledger over a
 * 200-task project, the executor's own time excluded (tasks take 0 ms); (2) the time from a
 * top-up (an operator grant) to the next task starting, for paused projects.
 */
import { randomUUID } from 'node:crypto';
import { type BenchStack, call, startBenchStack } from './stack';
import { machine, percentile, runBench } from './support';

const TASKS = 200;
const RESUMES = Number(process.env.BENCH_RESUMES ?? 20);

async function signUp(stack: BenchStack) {
  const res = await fetch(`${stack.url}/v1/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: `bench-${randomUUID()}@example.test` }),
  });
  return (await res.json()) as { id: string; apiKey: string };
}

async function grant(stack: BenchStack, userId: string, credits: number) {
  const res = await call(`${stack.url}/v1/admin/grants`, 'POST', stack.adminKey, { userId, credits });
  if (res.status !== 201) throw new Error(`grant: ${res.status}`);
}

async function waitProject(
  stack: BenchStack,
  key: string,
  id: string,
  ok: (p: { status: string; tasksCompleted: number }) => boolean,
) {
  for (;;) {
    const p = await call<{ status: string; tasksCompleted: number }>(
      `${stack.url}/v1/projects/${id}`,
      'GET',
      key,
    );
    if (ok(p.body)) return p.body;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function perTaskOverhead(stack: BenchStack) {
  const user = await signUp(stack);
  await grant(stack, user.id, TASKS * 25);
  const tasks = Array.from({ length: TASKS }, (_, i) => ({ title: `t${i}`, size: 'small' }));
  const t0 = performance.now();
  const started = await call<{ id: string }>(`${stack.url}/v1/projects`, 'POST', user.apiKey, {
    name: 'bench',
    tasks,
  });
  await waitProject(stack, user.apiKey, started.body.id, (p) => p.status === 'completed');
  const ms = performance.now() - t0;
  return { totalMs: ms, perTaskMs: ms / TASKS };
}

/** A project paused at zero; time from the grant to its next task being reserved (running). */
async function resumeLatency(stack: BenchStack): Promise<number> {
  const user = await signUp(stack);
  const started = await call<{ id: string }>(`${stack.url}/v1/projects`, 'POST', user.apiKey, {
    name: 'resume',
    tasks: [{ title: 'only', size: 'small' }],
  });
  await waitProject(stack, user.apiKey, started.body.id, (p) => p.status === 'paused');
  const sql = stack.services.sql;
  const t0 = performance.now();
  await grant(stack, user.id, 25);
  for (;;) {
    const [row] = await sql<{ status: string }[]>`
      SELECT status FROM project_tasks WHERE project_id = ${started.body.id} AND position = 0`;
    if (row && row.status !== 'pending') return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main() {
  const stack = await startBenchStack({ executor: { taskMs: 0, usageBp: 10_000 }, recheckSeconds: 600 });
  try {
    await perTaskOverhead(stack); // warm-up: bundles, JIT, connection pools
    const overhead = await perTaskOverhead(stack);
    const resumes: number[] = [];
    for (let i = 0; i < RESUMES; i++) resumes.push(await resumeLatency(stack));
    resumes.sort((a, b) => a - b);
    console.log(`Machine: ${machine()}`);
    console.log('Command: npm run bench:project\n');
    console.log('| measure | value |');
    console.log('| --- | ---: |');
    console.log(`| ${TASKS}-task project, start to completed | ${(overhead.totalMs / 1000).toFixed(2)} s |`);
    console.log(`| overhead per task (executor time 0) | ${overhead.perTaskMs.toFixed(1)} ms |`);
    console.log(
      `| top-up → next task starts, p50 (${RESUMES} runs) | ${percentile(resumes, 50).toFixed(0)} ms |`,
    );
    console.log(`| top-up → next task starts, p99 | ${percentile(resumes, 99).toFixed(0)} ms |`);
    console.log(`| timer-only re-check (signal lost) | ≤ recheckSeconds (default 30 s) |`);
  } finally {
    await stack.stop();
  }
}

runBench(main);
