import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { type CheckResult, check } from './check';

/** Conservation and no negative balance, over the whole ledger (Ledger.conservation). */
export async function ledgerChecks(sql: Sql, ledger: Ledger): Promise<CheckResult[]> {
  const report = await ledger.conservation();
  const [accounts] = await sql<{ n: number; users: number }[]>`
    SELECT count(*)::int AS n, count(*) FILTER (WHERE user_id IS NOT NULL)::int AS users FROM accounts`;
  const [pending] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM holds WHERE status = 'pending'`;
  const [holds] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM holds`;
  return [
    check(
      'money conserved: sum of posted over all accounts = 0',
      accounts!.n,
      report.sumPosted === 0 ? [] : [`sum of posted is ${report.sumPosted}`],
    ),
    check(
      "each account's posted = the sum of its transfers",
      accounts!.n,
      report.postedMismatches.map(
        (m) => `account ${m.id}: posted ${m.posted}, transfers say ${m.fromTransfers}`,
      ),
    ),
    check(
      "each account's held = the sum of its pending holds",
      accounts!.n,
      report.heldMismatches.map((m) => `account ${m.id}: held ${m.held}, holds say ${m.fromHolds}`),
    ),
    check(
      'no negative balance',
      accounts!.users,
      report.negativeUserAccounts === 0 ? [] : [`${report.negativeUserAccounts} user accounts below zero`],
    ),
    check(
      'no hold left open (every project settled)',
      holds!.n,
      pending!.n === 0 ? [] : [`${pending!.n} holds still pending`],
    ),
  ];
}
