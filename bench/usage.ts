/**
 * npm run bench:usage — usage charges per second through the real HTTP API (`POST /v1/usage`):
 * auth, zod, pricing, the ledger debit and the JSON answer. Two API servers in this process on
 * the same Postgres, one per debit path (group commit, and one transaction per debit), loaded by
 * autocannon from a worker thread so the load generator does not share the API's event loop.
 * Scenarios: many funded users (a random user's key per request) and one hot user; one bad request
 * in 20 against clean load; every event naming another user's agent (a creator share) against
 * plain events; then an overdraw check; then conservation over the whole ledger. Prints a Markdown table for BENCHMARKS.md.
 *
 *   BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 64), BENCH_USERS (default 200),
 *   BENCH_POOL (Postgres pool size of the API, default 20 as in production),
 *   BENCH_PROFILE (a file: CPU profile of the API thread during the first group-commit run),
 *   BENCH_PATHS (default `group-commit,one-transaction`), BENCH_RUNS (group-commit runs per
 *   scenario, default 3: the median is compared with the target), BENCH_BAD_RUNS and
 *   BENCH_AGENT_RUNS (alternations of the two comparisons, default 2 each), BENCH_AGENT_PROFILE (a
 *   prefix: CPU profiles of the API thread during the first plain and agentId runs).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { createApp } from '../api/app';
import { listen, type RunningServer } from '../api/server';
import type { DebitPath } from '../app';
import { openRoot, type Services } from '../composition/root';
import { insertAgent } from '../db/agents';
import { priceUsage } from '../domain';
import { bareUsageServer } from './bare-server';
import { benchDatabase, fundedUsers, machine, percentile } from './support';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const USERS = Number(process.env.BENCH_USERS ?? 200);
const POOL = Number(process.env.BENCH_POOL ?? 20);
const FUNDS = 1_000_000_000;
/** BENCH_PATHS=group-commit to skip the slow baseline (the ratio is then not printed). */
const PATHS = (process.env.BENCH_PATHS ?? 'group-commit,one-transaction').split(',') as DebitPath[];
/** BENCH_PROFILE=file.cpuprofile: a CPU profile of the API's thread during the first group-commit run. */
const PROFILE = process.env.BENCH_PROFILE;
/** BENCH_AGENT_PROFILE=prefix: CPU profiles of the API's thread during the first plain and agentId runs (prefix-plain.cpuprofile, prefix-agentId.cpuprofile). */
const AGENT_PROFILE = process.env.BENCH_AGENT_PROFILE;
/** Group-commit runs per scenario (this VM's runs spread by ±20%): the median is reported. */
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Issue 4's target. */
const TARGET = { perSecond: 3000, p99: 50 };
/** Issue 13: one request in BAD_EVERY cannot be stored; clean and bad runs alternate BAD_RUNS times. */
const BAD_EVERY = 20;
const BAD_RUNS = Number(process.env.BENCH_BAD_RUNS ?? 2);
/** Issue 14: every event names another user's agent (its creator's share is a second leg); alternating with plain events. */
const AGENT_RUNS = Number(process.env.BENCH_AGENT_RUNS ?? 2);
/** Issue 14's limit: the creator share may cost at most this share of throughput. */
const AGENT_MAX_COST = 0.1;
/** The agent comparison's events: 2 + 8 = 10 credits, a 3-credit share. */
const AGENT_EVENT_OUTPUT_TOKENS = 2000;
/** What every benchmark request records: a conversation message with 200 output tokens. */
const EVENT = { feature: 'conversation', outputTokens: 200 } as const;

/**
 * autocannon's worker thread needs its request hook as a file it can `require`: this writes one
 * per scenario. Each request takes a key from the list (a random one, or the only one) and a
 * fresh eventId, so every request is a new charge. With `badEvery`, every badEvery-th request
 * carries an eventId with a NUL in it, which Postgres cannot store: before issue 13 such a request
 * failed its whole group-commit batch, and the batch fell back to one transaction per debit.
 */
async function requestHook(
  dir: string,
  name: string,
  keys: string[],
  badEvery = 0,
  extra: Record<string, string | number> = {},
): Promise<string> {
  const file = path.join(dir, `${name}.cjs`);
  await writeFile(
    file,
    `'use strict';
const { randomUUID } = require('node:crypto');
const keys = ${JSON.stringify(keys)};
const body = ${JSON.stringify({ ...EVENT, ...extra })};
const badEvery = ${badEvery};
let sent = 0;
module.exports = function setupRequest(request) {
  const key = keys[Math.floor(Math.random() * keys.length)];
  sent += 1;
  const eventId = badEvery > 0 && sent % badEvery === 0 ? 'bad\\u0000' + randomUUID() : randomUUID();
  return {
    ...request,
    headers: { ...request.headers, authorization: 'Bearer ' + key, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, eventId }),
  };
};
`,
  );
  return file;
}

/** Postgres's processes (the postmaster and its backends), found from one of our backends. */
let postmasterPid = 0;

async function findPostmaster(services: Services): Promise<void> {
  const [row] = await services.sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  postmasterPid = procStat(row!.pid)?.ppid ?? 0;
}

/** utime + stime (clock ticks) and the parent of a process, from /proc (Linux). */
function procStat(pid: number): { ppid: number; ticks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

/** CPU ticks used so far by the Postgres server (postmaster + backends + background workers). */
function postgresTicks(): number {
  if (!postmasterPid) return Number.NaN;
  let ticks = procStat(postmasterPid)?.ticks ?? 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat?.ppid === postmasterPid) ticks += stat.ticks;
  }
  return ticks;
}

/** CPU ticks used so far by the group commit's batch connections' backends. */
async function batchBackendTicks(services: Services): Promise<number> {
  const rows = await services.sql<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'credits-debit-batches:%'`;
  return rows.reduce((sum, r) => sum + (procStat(r.pid)?.ticks ?? 0), 0);
}

/**
 * Where the machine's CPU went during a run, as shares of all cores: this process (the API's
 * event loop, autocannon's worker thread, libuv and GC threads), Postgres, and everything else.
 */
function cpuProbe() {
  const times = () => os.cpus().map((c) => c.times);
  const sum = (t: ReturnType<typeof times>, pick: (x: os.CpuInfo['times']) => number) =>
    t.reduce((s, x) => s + pick(x), 0);
  const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
  const before = {
    cpus: times(),
    proc: process.cpuUsage(),
    pg: postgresTicks(),
    elu: performance.eventLoopUtilization(),
  };
  return () => {
    const after = times();
    const wallMs =
      sum(after, (x) => x.user + x.nice + x.sys + x.idle + x.irq) -
      sum(before.cpus, (x) => x.user + x.nice + x.sys + x.idle + x.irq);
    const busyMs = wallMs - (sum(after, (x) => x.idle) - sum(before.cpus, (x) => x.idle));
    const proc = process.cpuUsage(before.proc);
    const processMs = (proc.user + proc.system) / 1000;
    const postgresMs = (postgresTicks() - before.pg) / ticksPerMs;
    return {
      /** Share of all cores busy. */
      machine: busyMs / wallMs,
      process: processMs / wallMs,
      postgres: postgresMs / wallMs,
      other: Math.max(0, busyMs - processMs - postgresMs) / wallMs,
      /** How busy the API's own event loop (the main thread) was. */
      apiLoop: performance.eventLoopUtilization(before.elu).utilization,
    };
  };
}

async function startProfile(): Promise<Session> {
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<void>((resolve, reject) =>
      session.post(method, (error) => (error ? reject(error) : resolve())),
    );
  await post('Profiler.enable');
  await post('Profiler.start');
  return session;
}

async function stopProfile(session: Session, file: string): Promise<void> {
  const profile = await new Promise<unknown>((resolve, reject) =>
    session.post('Profiler.stop', (error, result) => (error ? reject(error) : resolve(result.profile))),
  );
  await writeFile(file, JSON.stringify(profile));
  session.disconnect();
  console.error(`CPU profile of the API thread written to ${file}`);
}

interface Row {
  scenario: string;
  path: DebitPath;
  run: number;
  perSecond: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  cpu: ReturnType<ReturnType<typeof cpuProbe>>;
  /** Usage charges per transaction that wrote them (the group commit's batch size). */
  perCommit: number;
}

async function lastTransferId(services: Services): Promise<number> {
  const [row] = await services.sql<
    { id: number }[]
  >`SELECT coalesce(max(id), 0)::bigint AS id FROM transfers`;
  return row!.id;
}

/** Usage transfers since `afterId` and the transactions that wrote them (xmin: the writer's id). */
async function chargesPerCommit(services: Services, afterId: number): Promise<number> {
  const [row] = await services.sql<{ charges: number; commits: number }[]>`
    SELECT count(*)::int AS charges, count(DISTINCT xmin::text)::int AS commits
    FROM transfers WHERE id > ${afterId} AND kind = 'usage:conversation'`;
  return row!.charges / Math.max(1, row!.commits);
}

/** Every 2xx autocannon counted, warm-up included: each must be one charge in the ledger. */
let answered2xx = 0;

async function load(
  server: RunningServer,
  hook: string,
  run: { seconds: number } | { requests: number },
): Promise<{ result: autocannon.Result; cpu: Row['cpu'] }> {
  const probe = cpuProbe();
  const result = await autocannon({
    url: server.url,
    connections: CONNECTIONS,
    ...('seconds' in run ? { duration: run.seconds } : { amount: run.requests }),
    workers: 1,
    requests: [{ method: 'POST', path: '/v1/usage', setupRequest: hook }],
  });
  answered2xx += result['2xx'];
  return { result, cpu: probe() };
}

async function main() {
  const db = await benchDatabase();
  // The usage route never talks to Temporal; a lazy connection connects only when first used.
  const root = await openRoot({
    databaseUrl: db.url,
    poolSize: POOL,
    stripe: { secretKey: 'sk_test_bench_not_used', webhookSecret: 'whsec_bench_not_used' },
    temporal: { address: '127.0.0.1:7233', lazy: true },
  });
  const services = root.services;
  // A real API process has made Temporal calls, and the SDK's first call leaves Node's promise
  // hook on (its AsyncLocalStorage): run with it on too. An A/B with it off showed no difference.
  new AsyncLocalStorage().run({}, () => {});
  const hooksDir = await mkdtemp(path.join(os.tmpdir(), 'credits-bench-usage-'));
  const servers: RunningServer[] = [];
  try {
    const serverFor = async (debitPath: DebitPath) => {
      const app = createApp({
        ...root.apiDeps({ adminApiKey: undefined, log: (message, error) => console.error(message, error) }),
        useCases: root.useCasesWith({ debitPath }),
      });
      const server = await listen(app, 0, '127.0.0.1');
      servers.push(server);
      return server;
    };
    const byPath = {
      'group-commit': await serverFor('group-commit'),
      'one-transaction': await serverFor('one-transaction'),
    } satisfies Record<DebitPath, RunningServer>;

    await findPostmaster(services);
    const many = await fundedUsers(services.sql, services.ledger, USERS, FUNDS);
    const [hot] = await fundedUsers(services.sql, services.ledger, 1, FUNDS);
    const hooks = {
      many: await requestHook(
        hooksDir,
        'many',
        many.map((u) => u.apiKey),
      ),
      hot: await requestHook(hooksDir, 'hot', [hot!.apiKey]),
    };
    const price = priceUsage(await services.rateCards.latest(), EVENT).credits;

    // Warm up the servers to be measured (JIT, pool connections) before measuring.
    for (const debitPath of PATHS) await load(byPath[debitPath], hooks.many, { seconds: 2 });

    const rows: Row[] = [];
    for (const [scenario, hook] of [
      [`${USERS} users`, hooks.many],
      ['1 hot user', hooks.hot],
    ] as const) {
      for (const [debitPath, run] of PATHS.flatMap((p) =>
        Array.from({ length: p === 'group-commit' ? RUNS : 1 }, (_, i) => [p, i + 1] as const),
      )) {
        const before = await lastTransferId(services);
        const profiling =
          PROFILE && scenario === `${USERS} users` && debitPath === 'group-commit' && run === 1;
        const session = profiling ? await startProfile() : null;
        const { result, cpu } = await load(byPath[debitPath], hook, { seconds: SECONDS });
        if (session) await stopProfile(session, PROFILE!);
        const ok = result['2xx'];
        const perCommit = await chargesPerCommit(services, before);
        rows.push({
          scenario,
          path: debitPath,
          run,
          perSecond: Math.round(ok / result.duration),
          p50: result.latency.p50,
          p99: result.latency.p99,
          ok,
          non2xx: result.non2xx,
          errors: result.errors,
          cpu,
          perCommit,
        });
        console.error(`${scenario}, ${debitPath}: ${Math.round(ok / result.duration)}/s`);
      }
    }

    // One bad request in 20 against clean load, alternating on the group-commit server.
    const badHook = await requestHook(
      hooksDir,
      'bad',
      many.map((u) => u.apiKey),
      BAD_EVERY,
    );
    const badRows: { load: 'clean' | '1 in 20 bad'; charges: number; answered: number; p99: number }[] = [];
    for (let i = 0; i < BAD_RUNS; i++)
      for (const [label, hook] of [
        ['clean', hooks.many],
        ['1 in 20 bad', badHook],
      ] as const) {
        const { result } = await load(byPath['group-commit'], hook, { seconds: SECONDS });
        badRows.push({
          load: label,
          charges: Math.round(result['2xx'] / result.duration),
          answered: Math.round((result['2xx'] + result.non2xx) / result.duration),
          p99: result.latency.p99,
        });
        console.error(`${label}: ${badRows.at(-1)!.charges} charges/s`);
      }

    // Every event for another user's agent against plain events, alternating on the group-commit server.
    const [creator] = await fundedUsers(services.sql, services.ledger, 1, 1);
    const agentId = randomUUID();
    await insertAgent(services.sql, {
      id: agentId,
      creatorId: creator!.id,
      name: 'bench agent',
      description: null,
      requestHash: agentId,
    });
    // A charge big enough that its 30% share is at least a credit (a share rounds down), the same
    // size with and without the agent.
    const agentEvent = { outputTokens: AGENT_EVENT_OUTPUT_TOKENS };
    const plainHook = await requestHook(
      hooksDir,
      'plain-large',
      many.map((u) => u.apiKey),
      0,
      agentEvent,
    );
    const agentHook = await requestHook(
      hooksDir,
      'agent',
      many.map((u) => u.apiKey),
      0,
      { ...agentEvent, agentId },
    );
    const agentRows: {
      load: 'plain' | 'agentId';
      charges: number;
      p99: number;
      /** CPU per charge, µs: this process (API + autocannon) and Postgres. */
      processUs: number;
      postgresUs: number;
      /** Of Postgres's: the batches' backend (the group commit runs one batch at a time there). */
      batchUs: number;
    }[] = [];
    // ABBA order (plain first in even pairs, agentId first in odd ones): the machine's drift within
    // a run, and the ledger growing as it runs, then weigh on both loads alike.
    const pair = [
      ['plain', plainHook],
      ['agentId', agentHook],
    ] as const;
    for (let i = 0; i < AGENT_RUNS; i++)
      for (const [label, hook] of i % 2 === 0 ? pair : [...pair].reverse()) {
        const session = AGENT_PROFILE && i === 0 ? await startProfile() : null;
        const batchTicks = await batchBackendTicks(services);
        const { result, cpu } = await load(byPath['group-commit'], hook, { seconds: SECONDS });
        // Clock ticks are 10 ms (USER_HZ 100).
        const batchUs = (((await batchBackendTicks(services)) - batchTicks) * 10_000) / result['2xx'];
        if (session) await stopProfile(session, `${AGENT_PROFILE}-${label}.cpuprofile`);
        const charges = result['2xx'] / result.duration;
        // The probe's shares are of all cores: × cores × 1 s in µs ÷ charges per second.
        const perCharge = (share: number) => Math.round((share * os.cpus().length * 1e6) / charges);
        agentRows.push({
          load: label,
          charges: Math.round(charges),
          p99: result.latency.p99,
          processUs: perCharge(cpu.process),
          postgresUs: perCharge(cpu.postgres),
          batchUs: Math.round(batchUs),
        });
        console.error(`${label}: ${agentRows.at(-1)!.charges} charges/s`);
      }
    // One statement, so one snapshot: a charge still in flight when the runs ended commits with
    // its share (one operation) either before it or after it, never between two counts.
    const [counted] = await services.sql<{ charges: number; shares: number; credits: number }[]>`
      SELECT count(DISTINCT operation_key) FILTER (WHERE kind = 'usage:conversation')::int AS charges,
             count(*) FILTER (WHERE kind = 'creator_share')::int AS shares,
             coalesce(sum(amount) FILTER (WHERE kind = 'creator_share'), 0)::bigint AS credits
      FROM transfers WHERE agent_id = ${agentId}`;
    const shares = { n: counted!.shares, credits: counted!.credits };
    const agentCharges = { n: counted!.charges };
    const sharesOk = shares.n === agentCharges.n;
    if (!sharesOk) {
      const unpaid = await services.sql`
        SELECT t.operation_key, t.amount, t.debit_account_id, o.result FROM transfers t
        JOIN ledger_operations o ON o.idempotency_key = t.operation_key
        WHERE t.kind = 'usage:conversation' AND t.agent_id = ${agentId}
          AND NOT EXISTS (SELECT 1 FROM transfers s WHERE s.operation_key = t.operation_key AND s.kind = 'creator_share')
        LIMIT 3`;
      console.error('agent charges without a share:', JSON.stringify(unpaid));
    }

    // The floor: the same load on a server that answers without auth, pricing or the ledger.
    const bare = await bareUsageServer();
    servers.push(bare);
    const floor = await load(bare, hooks.many, { seconds: SECONDS });
    answered2xx -= floor.result['2xx']; // not charges
    const floorPerSecond = Math.round(floor.result['2xx'] / floor.result.duration);

    // Overdraw: a user funded for exactly 3,000 charges gets 4,500 requests, 64 at a time.
    const limitedFor = 3000;
    const [limited] = await fundedUsers(services.sql, services.ledger, 1, limitedFor * price);
    const overdraw = await load(
      byPath['group-commit'],
      await requestHook(hooksDir, 'limited', [limited!.apiKey]),
      { requests: limitedFor * 1.5 },
    );
    const limitedBalance = await services.ledger.balance(limited!.id);
    const [limitedCharges] = await services.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM transfers t JOIN accounts a ON a.id = t.debit_account_id
      WHERE a.user_id = ${limited!.id} AND t.kind = 'usage:conversation'`;
    const overdrawOk =
      limitedBalance.available === 0 &&
      limitedCharges!.n === limitedFor &&
      overdraw.result['2xx'] === limitedFor &&
      overdraw.result['5xx'] === 0;

    const report = await services.ledger.conservation();
    const [usageTransfers] = await services.sql<{ n: number }[]>`
      SELECT count(DISTINCT operation_key)::int AS n FROM transfers WHERE kind = 'usage:conversation'`;
    const conserved =
      report.sumPosted === 0 &&
      report.postedMismatches.length === 0 &&
      report.heldMismatches.length === 0 &&
      report.negativeUserAccounts === 0;

    const median = (xs: number[]) =>
      percentile(
        [...xs].sort((a, b) => a - b),
        50,
      );
    const groupRuns = (scenario: string) =>
      rows.filter((r) => r.scenario === scenario && r.path === 'group-commit');
    const ratio = (scenario: string) => {
      const gc = median(groupRuns(scenario).map((r) => r.perSecond));
      const naive = rows.find((r) => r.scenario === scenario && r.path === 'one-transaction');
      return naive ? (gc / naive.perSecond).toFixed(1) : 'n/a';
    };
    const targetLine = (scenario: string) => {
      const runs = groupRuns(scenario);
      const met = runs.filter((r) => r.perSecond >= TARGET.perSecond && r.p99 <= TARGET.p99).length;
      const perSecond = median(runs.map((r) => r.perSecond));
      const p99 = median(runs.map((r) => r.p99));
      const ok = perSecond >= TARGET.perSecond && p99 <= TARGET.p99;
      return `${scenario}: median of ${runs.length} runs ${perSecond.toLocaleString('en-US')}/s, p99 ${p99} ms (target ${TARGET.perSecond.toLocaleString('en-US')}/s, p99 ≤ ${TARGET.p99} ms: ${ok ? 'met' : 'NOT met'}; met in ${met} of ${runs.length} runs)`;
    };
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    const badRatio = (pick: (r: (typeof badRows)[number]) => number) => {
      const of = (label: string) => median(badRows.filter((r) => r.load === label).map(pick));
      return (of('1 in 20 bad') / of('clean')).toFixed(2);
    };
    const agentMedian = (label: string) =>
      median(agentRows.filter((r) => r.load === label).map((r) => r.charges));
    const agentRatio = agentMedian('agentId') / agentMedian('plain');
    const lines = [
      `Machine: ${machine()}`,
      `Command: \`BENCH_SECONDS=${SECONDS} BENCH_RUNS=${RUNS} npm run bench:usage\` (${CONNECTIONS} connections, API pool ${POOL}, each request \`${JSON.stringify(EVENT)}\` = ${price} credits, a new eventId)`,
      '',
      '| scenario | debit path | charges/s | p50 ms | p99 ms | 2xx | non-2xx | errors | charges per commit | CPU: machine | API process (+ autocannon) | Postgres | other | API event loop busy |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map(
        (r) =>
          `| ${r.scenario} | ${r.path}${r.path === 'group-commit' && RUNS > 1 ? ` (run ${r.run})` : ''} | ${r.perSecond.toLocaleString('en-US')} | ${r.p50} | ${r.p99} | ${r.ok.toLocaleString('en-US')} | ${r.non2xx} | ${r.errors} | ${r.perCommit.toFixed(1)} | ${pct(r.cpu.machine)} | ${pct(r.cpu.process)} | ${pct(r.cpu.postgres)} | ${pct(r.cpu.other)} | ${pct(r.cpu.apiLoop)} |`,
      ),
      '',
      `- Target: ${targetLine(`${USERS} users`)}; ${targetLine('1 hot user')}.`,
      `- Floor, same run: the same load on a bare server (reads and parses the body, answers a fixed 201; no auth, pricing or ledger): ${floorPerSecond.toLocaleString('en-US')}/s, p99 ${floor.result.latency.p99} ms, machine ${pct(floor.cpu.machine)} busy.`,
      `- Ratio group-commit (median) / one-transaction: ${ratio(`${USERS} users`)}× (${USERS} users), ${ratio('1 hot user')}× (1 hot user).`,
      `- Overdraw: a user funded for exactly ${limitedFor.toLocaleString('en-US')} charges sent ${overdraw.result.requests.total.toLocaleString('en-US')} (${CONNECTIONS} at a time): ${overdraw.result['2xx'].toLocaleString('en-US')} answered 201, ${limitedCharges!.n.toLocaleString('en-US')} charges in the ledger, ${overdraw.result['4xx'].toLocaleString('en-US')} answered 4xx (402), ${overdraw.result['5xx']} 5xx, final balance ${limitedBalance.available} (${overdrawOk ? 'ok' : 'FAILED'}).`,
      `- Ledger after the run: ${usageTransfers!.n.toLocaleString('en-US')} usage charges recorded for ${answered2xx.toLocaleString('en-US')} 2xx answers counted by autocannon (a request still in flight when a run ends is charged but not counted), sum of balances ${report.sumPosted}, ${report.postedMismatches.length} posted mismatches, ${report.negativeUserAccounts} negative accounts (${conserved ? 'conserved' : 'NOT CONSERVED'}).`,
      '',
      `One request in ${BAD_EVERY} bad (an eventId with a NUL), ${USERS} users, group commit, alternating with clean load:`,
      '',
      '| load | charges/s | requests answered/s | p99 ms |',
      '| --- | ---: | ---: | ---: |',
      ...badRows.map(
        (r) =>
          `| ${r.load} | ${r.charges.toLocaleString('en-US')} | ${r.answered.toLocaleString('en-US')} | ${r.p99} |`,
      ),
      '',
      `- With 1 in ${BAD_EVERY} requests bad, good charges/s are ${badRatio((r) => r.charges)}× clean load's and requests answered/s ${badRatio((r) => r.answered)}× (medians of ${BAD_RUNS} runs each).`,
      '',
      `Every event naming another user's agent (\`agentId\`: the creator's share is a second leg of the same operation), ${USERS} users, group commit, alternating with the same events without it (${AGENT_EVENT_OUTPUT_TOKENS} output tokens each):`,
      '',
      "| load | charges/s | p99 ms | CPU µs per charge: API + autocannon | Postgres | of which the batches' backend |",
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...agentRows.map(
        (r) =>
          `| ${r.load} | ${r.charges.toLocaleString('en-US')} | ${r.p99} | ${r.processUs} | ${r.postgresUs} | ${r.batchUs} |`,
      ),
      '',
      `- With \`agentId\`, charges/s are ${agentRatio.toFixed(2)}× plain events' (medians of ${AGENT_RUNS} runs each; the limit is ${1 - AGENT_MAX_COST}×: ${agentRatio >= 1 - AGENT_MAX_COST ? 'met' : 'NOT met'}). ${shares.n.toLocaleString('en-US')} creator shares (${Number(shares.credits).toLocaleString('en-US')} credits) for ${agentCharges.n.toLocaleString('en-US')} agent charges (${sharesOk ? 'one each' : 'MISMATCH'}).`,
    ];
    console.log(lines.join('\n'));
    if (!conserved || !overdrawOk || !sharesOk) process.exitCode = 1;
  } finally {
    for (const server of servers) await server.close();
    await root.close();
    await db.stop();
    await rm(hooksDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
