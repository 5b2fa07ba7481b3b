/**
 * npm run bench:ledger-profile — where a group commit's time goes. The same load as
 * bench:ledger's 1,000-account group-commit row, on a throw-away embedded Postgres started with
 * pg_stat_statements (nested statements tracked), then each statement's time per batch.
 * BENCH_PATH=one-transaction profiles one debit per transaction (debitAlone) instead.
 * BENCH_SHARE=1 names an agent on every debit and pays its creator (one of three) a share, as a
 * usage event with `agentId` does: what the share's second leg costs, statement by statement.
 */
import { randomUUID } from 'node:crypto';
import { openLedger } from '../composition/ledger';
import { benchDatabase, closedLoop, fundedUsers, machine, runBench } from './support';

const CALLERS = Number(process.env.BENCH_CALLERS ?? 64);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ACCOUNTS = 1000;
const ALONE = process.env.BENCH_PATH === 'one-transaction';
const SHARE = process.env.BENCH_SHARE === '1';
const CREATORS = 3;

async function main() {
  const db = await benchDatabase({
    shared_preload_libraries: 'pg_stat_statements',
    'pg_stat_statements.track': 'all',
  });
  const { sql, ledger } = await openLedger(db.url, { poolSize: 8 });
  try {
    await sql`CREATE EXTENSION pg_stat_statements`;
    if (process.env.BENCH_SQL) await sql.unsafe(process.env.BENCH_SQL);
    const users = (await fundedUsers(sql, ledger, ACCOUNTS, 1e9)).map((u) => u.id);
    const creators = (await fundedUsers(sql, ledger, CREATORS, 1)).map((u) => u.id);
    await sql`ANALYZE`;
    await sql`SELECT pg_stat_statements_reset()`;
    const run = await closedLoop(CALLERS, SECONDS, (caller, i) =>
      (ALONE ? ledger.debitAlone : ledger.debit).call(ledger, {
        idempotencyKey: randomUUID(),
        userId: users[(caller * 7919 + i) % users.length]!,
        amount: SHARE ? 10 : 1,
        kind: 'bench',
        ...(SHARE
          ? {
              agentId: `agent-${i % CREATORS}`,
              share: { userId: creators[i % CREATORS]!, amount: 3, clearSeconds: 60 },
            }
          : {}),
      }),
    );
    const rows = await sql<{ calls: number; ms: number; query: string }[]>`
      SELECT calls, total_exec_time AS ms, query FROM pg_stat_statements
      WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC LIMIT 12`;
    const batches = rows.find((r) => r.query.includes('ledger_debit_batch('))?.calls ?? 1;
    console.log(`Machine: ${machine()}`);
    console.log(
      `Command: ${ALONE ? 'BENCH_PATH=one-transaction ' : ''}${SHARE ? 'BENCH_SHARE=1 ' : ''}npm run bench:ledger-profile (${CALLERS} callers, ${SECONDS} s, ${ACCOUNTS} accounts)\n`,
    );
    console.log(
      `${run.done.toLocaleString('en-US')} debits in ${batches.toLocaleString('en-US')} batches ` +
        `(${(run.done / batches).toFixed(1)} per batch), ${Math.round(run.done / (run.elapsedMs / 1000)).toLocaleString('en-US')}/s with pg_stat_statements on.\n`,
    );
    console.log('| statement (nested statements indented) | ms per batch | µs per debit |');
    console.log('| --- | ---: | ---: |');
    for (const r of rows) {
      const text = r.query.replace(/\s+/g, ' ').trim().slice(0, 70).replaceAll('|', '\\|');
      const top = r.query.includes('ledger_debit_batch(');
      const perBatch = r.ms / batches;
      console.log(
        `| ${top ? '' : '↳ '}\`${text}\` | ${perBatch.toFixed(3)} | ${((perBatch * 1000 * batches) / run.done).toFixed(1)} |`,
      );
    }
  } finally {
    await ledger.close();
    await sql.end();
    await db.stop();
  }
}

runBench(main);
