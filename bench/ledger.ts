/**
 * npm run bench:ledger — debits per second through the ledger module, 64 concurrent callers,
 * one transaction per debit (debitAlone) against group commit (debit), on 1,000 accounts and on
 * one hot account; hold-then-post pairs (the project task path) on 1,000 accounts; the bare-row
 * floor; and, with PGLEDGER_DIR set to a snapshot of pgr0ss/pgledger kept outside this repo,
 * pgledger's one transfer per transaction in the same server and window (bench/pgledger.ts),
 * then BENCH_PGLEDGER_PAIRS (default 3) alternations of the two on 1,000 accounts, in ABBA order,
 * so the machine's drift within a run weighs on both. Prints Markdown tables for BENCHMARKS.md.
 */
import { randomUUID } from 'node:crypto';
import { openLedger } from '../composition/ledger';
import type { Ledger } from '../db/ledger';
import type { Sql } from '../db/pool';
import { openPgledger, type PgledgerRun, pgledgerAccounts, pgledgerTransfers } from './pgledger';
import { benchDatabase, closedLoop, fundedUsers, machine, percentile } from './support';

const CALLERS = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ACCOUNTS = 1000;
const FUNDS = 10_000_000;
/** The batch size group commit reaches with 64 callers and one batch in flight (bench:ledger-profile). */
const FLOOR_BATCH = 32;
/** Issue 3's target, which the floor is compared with. */
const TARGET_PER_SECOND = 20_000;
/** Alternations of one debit per transaction here and pgledger's one transfer per transaction. */
const PGLEDGER_PAIRS = Number(process.env.BENCH_PGLEDGER_PAIRS ?? 3);

/** Funded users' ids. */
async function fundedIds(sql: Sql, ledger: Ledger, count: number, credits: number): Promise<string[]> {
  return (await fundedUsers(sql, ledger, count, credits)).map((u) => u.id);
}

type Path = 'one transaction per debit' | 'group commit' | 'hold then post';

/** One hold and its post, each its own transaction, as a project task reserves and settles. */
async function holdThenPost(ledger: Ledger, userId: string): Promise<void> {
  const holdId = randomUUID();
  await ledger.hold({
    idempotencyKey: `h:${holdId}`,
    holdId,
    userId,
    amount: 2,
    kind: 'bench',
    expiresInSeconds: 600,
  });
  await ledger.postHold({ idempotencyKey: `p:${holdId}`, holdId, amount: 1 });
}

async function scenario(ledger: Ledger, path: Path, accounts: string[]) {
  const op =
    path === 'hold then post'
      ? (userId: string) => holdThenPost(ledger, userId)
      : (userId: string) =>
          (path === 'group commit' ? ledger.debit : ledger.debitAlone).call(ledger, {
            idempotencyKey: randomUUID(),
            userId,
            amount: 1,
            kind: 'bench',
          });
  const result = await closedLoop(CALLERS, SECONDS, (caller, i) =>
    op(accounts[(caller * 7919 + i) % accounts.length]!),
  );
  return {
    perSecond: Math.round(result.done / (result.elapsedMs / 1000)),
    p50: percentile(result.latenciesMs, 50),
    p99: percentile(result.latenciesMs, 99),
    failed: result.failed,
    done: result.done,
  };
}

/**
 * What this machine's Postgres can do at best for ANY ledger that keeps `rows` rows per debit:
 * commits of FLOOR_BATCH debits' bare rows (a key with its unique index, an account id with its
 * index, an amount; with two rows, the second in a second such table, in the same statement) back
 * to back from `streams` connections. No locks, balances, checks, results, and no callers' work:
 * an upper bound for the group commit above, measured in the same run. Returns debits/s.
 */
async function bareRowFloor(sql: Sql, streams: number, rows: 1 | 2): Promise<number> {
  for (const table of ['bench_bare_a', 'bench_bare_b']) {
    await sql`CREATE TABLE ${sql(table)} (
      key text COLLATE "C" PRIMARY KEY, account_id bigint NOT NULL, amount bigint NOT NULL)`;
    await sql`CREATE INDEX ON ${sql(table)} (account_id)`;
  }
  try {
    const result = await closedLoop(streams, SECONDS, (stream, i) => {
      const keys = Array.from({ length: FLOOR_BATCH }, () => randomUUID());
      const accounts = keys.map((_, j) => 8 + ((stream * 7919 + i * FLOOR_BATCH + j) % (2 * ACCOUNTS)));
      return rows === 1
        ? sql`INSERT INTO bench_bare_a (key, account_id, amount)
            SELECT k, a, 1 FROM unnest(${keys}::text[], ${accounts}::bigint[]) AS r(k, a)`
        : sql`WITH first AS (
              INSERT INTO bench_bare_a (key, account_id, amount)
              SELECT k, a, 1 FROM unnest(${keys}::text[], ${accounts}::bigint[]) AS r(k, a))
            INSERT INTO bench_bare_b (key, account_id, amount)
            SELECT k, a, 1 FROM unnest(${keys}::text[], ${accounts}::bigint[]) AS r(k, a)`;
    });
    return Math.round((result.done * FLOOR_BATCH) / (result.elapsedMs / 1000));
  } finally {
    await sql`DROP TABLE bench_bare_a, bench_bare_b`;
  }
}

interface PgledgerSide {
  sql: Sql;
  /** Its 1,000 accounts' ids. */
  many: string[];
}

/** pgledger loaded next to the bench's database, when PGLEDGER_DIR names a snapshot. */
async function openPgledgerSide(serverUrl: string): Promise<PgledgerSide | null> {
  const dir = process.env.PGLEDGER_DIR;
  if (!dir) return null;
  const sql = await openPgledger(serverUrl, dir, 70);
  return { sql, many: await pgledgerAccounts(sql, ACCOUNTS) };
}

/** pgledger on 1,000 accounts and on one hot pair. */
async function pgledgerRows(pg: PgledgerSide): Promise<Record<string, PgledgerRun>> {
  return {
    '1,000 accounts': await pgledgerTransfers(pg.sql, pg.many, CALLERS, SECONDS),
    '1 hot pair': await pgledgerTransfers(pg.sql, pg.many.slice(0, 2), CALLERS, SECONDS),
  };
}

/** One debit per transaction here against pgledger's one transfer per transaction, ABBA. */
async function alternateWithPgledger(
  ledger: Ledger,
  accounts: string[],
  pg: PgledgerSide,
): Promise<{ ours: number; theirs: number }[]> {
  const ours = async () => (await scenario(ledger, 'one transaction per debit', accounts)).perSecond;
  const theirs = async () => (await pgledgerTransfers(pg.sql, pg.many, CALLERS, SECONDS)).perSecond;
  const pairs: { ours: number; theirs: number }[] = [];
  for (let i = 0; i < PGLEDGER_PAIRS; i++) {
    if (i % 2 === 0) {
      const o = await ours();
      pairs.push({ ours: o, theirs: await theirs() });
    } else {
      const t = await theirs();
      pairs.push({ ours: await ours(), theirs: t });
    }
    console.error(`pair ${i + 1}: ours ${pairs.at(-1)!.ours}/s, pgledger ${pairs.at(-1)!.theirs}/s`);
  }
  return pairs;
}

/** Fund one account for exactly 1,000 debits, fire 3,000 at once: exactly 1,000 may succeed. */
async function overdrawCheck(sql: Sql, ledger: Ledger): Promise<string> {
  const [hot] = await fundedIds(sql, ledger, 1, 1000);
  const settled = await Promise.allSettled(
    Array.from({ length: 3000 }, () =>
      ledger.debit({ idempotencyKey: randomUUID(), userId: hot!, amount: 1, kind: 'bench' }),
    ),
  );
  const ok = settled.filter((s) => s.status === 'fulfilled').length;
  const balance = await ledger.balance(hot!);
  if (ok !== 1000 || balance.posted !== 0)
    throw new Error(`overdraw check failed: ${ok} ok, ${balance.posted}`);
  return `3,000 concurrent debits of 1 on an account holding 1,000: ${ok} succeeded, balance ${balance.posted}`;
}

async function main() {
  const db = await benchDatabase();
  const { sql, ledger } = await openLedger(db.url, { poolSize: 70 });
  try {
    const many = await fundedIds(sql, ledger, ACCOUNTS, FUNDS);
    const hot = await fundedIds(sql, ledger, 1, FUNDS);
    // Fresh statistics after the bulk load, as autovacuum would gather within a minute: without
    // them the planner treats the 2,000-row accounts table as empty and scans it.
    await sql`ANALYZE`;
    const rows: string[] = [];
    const rates: Record<string, number> = {};
    for (const [label, accounts] of [
      ['1,000 accounts', many],
      ['1 hot account', hot],
    ] as const) {
      for (const path of ['one transaction per debit', 'group commit'] as const) {
        const r = await scenario(ledger, path, accounts);
        rates[`${label}/${path}`] = r.perSecond;
        rows.push(
          `| ${label} | ${path} | ${r.perSecond.toLocaleString('en-US')} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.failed} |`,
        );
        console.error(rows.at(-1));
      }
    }
    const pairs = await scenario(ledger, 'hold then post', many);
    rows.push(
      `| 1,000 accounts | hold then post (pairs) | ${pairs.perSecond.toLocaleString('en-US')} | ${pairs.p50.toFixed(1)} | ${pairs.p99.toFixed(1)} | ${pairs.failed} |`,
    );
    console.error(rows.at(-1));
    const pgSide = await openPgledgerSide(db.url);
    const pgledger = pgSide ? await pgledgerRows(pgSide) : null;
    const alternations = pgSide ? await alternateWithPgledger(ledger, many, pgSide) : [];
    await pgSide?.sql.end();
    const floors: string[] = [];
    /** Debits/s of the floor on one connection, by bare rows per debit. */
    const floorRates: Record<number, number> = {};
    for (const rowsPerDebit of [1, 2] as const)
      for (const streams of [1, 2]) {
        const perSecond = await bareRowFloor(sql, streams, rowsPerDebit);
        if (streams === 1) floorRates[rowsPerDebit] = perSecond;
        floors.push(
          `| ${rowsPerDebit} | ${streams} | ${perSecond.toLocaleString('en-US')} | ${(perSecond / TARGET_PER_SECOND).toFixed(2)} |`,
        );
      }
    const hotBalance = await ledger.balance(hot[0]!);
    const conservation = await ledger.conservation();
    const overdraw = await overdrawCheck(sql, ledger);
    console.log(`Machine: ${machine()}`);
    console.log(`Command: npm run bench:ledger (${CALLERS} callers, ${SECONDS} s per row, amount 1)\n`);
    console.log('| accounts | path | debits/s | p50 ms | p99 ms | failed |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: |');
    for (const row of rows) console.log(row);
    for (const label of ['1,000 accounts', '1 hot account']) {
      const ratio = rates[`${label}/group commit`]! / rates[`${label}/one transaction per debit`]!;
      console.log(`\n${label}: group commit is ${ratio.toFixed(1)}× one transaction per debit.`);
    }
    if (pgledger) {
      console.log('\npgledger, same server and window, one transfer per transaction, 64 callers:\n');
      console.log('| accounts | transfers/s | p50 ms | p99 ms | failed |');
      console.log('| --- | ---: | ---: | ---: | ---: |');
      for (const [label, r] of Object.entries(pgledger))
        console.log(
          `| ${label} | ${r.perSecond.toLocaleString('en-US')} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.failed} |`,
        );
      const ours = rates['1,000 accounts/one transaction per debit']!;
      console.log(
        `\n1,000 accounts: one debit per transaction here is ${(ours / pgledger['1,000 accounts']!.perSecond).toFixed(2)}× pgledger's one transfer per transaction.`,
      );
      if (alternations.length > 0) {
        console.log(
          '\nAlternating, 1,000 accounts (ABBA), one debit per transaction here against pgledger:\n',
        );
        console.log('| pair | here, debits/s | pgledger, transfers/s | ratio |');
        console.log('| ---: | ---: | ---: | ---: |');
        for (const [i, p] of alternations.entries())
          console.log(
            `| ${i + 1} | ${p.ours.toLocaleString('en-US')} | ${p.theirs.toLocaleString('en-US')} | ${(p.ours / p.theirs).toFixed(2)}× |`,
          );
        const ratios = alternations.map((p) => p.ours / p.theirs).sort((a, b) => a - b);
        const sum = (pick: (p: { ours: number; theirs: number }) => number) =>
          alternations.reduce((total, p) => total + pick(p), 0);
        console.log(
          `\nMedian of the pairs' ratios ${percentile(ratios, 50).toFixed(2)}×; summed ${(sum((p) => p.ours) / sum((p) => p.theirs)).toFixed(2)}× (target ≥ 1×).`,
        );
      }
    } else {
      console.log('\npgledger: not run (set PGLEDGER_DIR to a snapshot of pgr0ss/pgledger).');
    }
    const twoRowFloor = floorRates[2]!;
    for (const label of ['1,000 accounts', '1 hot account'])
      console.log(
        `${label}: group commit is ${((100 * rates[`${label}/group commit`]!) / twoRowFloor).toFixed(0)}% of the two-row floor on one connection.`,
      );
    console.log(
      `\nFloor, same run: commits of ${FLOOR_BATCH} debits' bare rows back to back (no locks, balances, checks or callers' work):\n`,
    );
    console.log(
      `| bare rows per debit | connections | debits/s | ÷ ${TARGET_PER_SECOND.toLocaleString('en-US')} |`,
    );
    console.log('| ---: | ---: | ---: | ---: |');
    for (const row of floors) console.log(row);
    console.log(`\nHot account after the run: available ${hotBalance.available} (never negative).`);
    console.log(`Overdraw check: ${overdraw}.`);
    console.log(`Conservation: ${JSON.stringify(conservation)}`);
  } finally {
    await ledger.close();
    await sql.end();
    await db.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
