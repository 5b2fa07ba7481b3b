import type { Ledger } from '../../db/ledger';
import type { Sql } from '../../db/pool';
import { type CheckResult, check } from './check';

/** Conservation and no negative balance, over the whole ledger (Ledger.conservation). */
export async function ledgerChecks(sql: Sql, ledger: Ledger): Promise<CheckResult[]> {
  const report = await ledger.conservation();
  const [accounts] = await sql<{ n: number; users: number }[]>`
    SELECT count(*)::int AS n, count(*) FILTER (WHERE user_id IS NOT NULL)::int AS users FROM accounts`;
  // Each open hold with its task and project, so a leak can be traced without the database.
  const pending = await sql<
    {
      id: string;
      amount: number;
      cause: string | null;
      created: Date;
      task: string | null;
      project: string | null;
    }[]
  >`
    SELECT h.id, h.amount, h.cause_id AS cause, h.created_at AS created,
           pt.status AS task, p.status || coalesce(' (' || p.failure_reason || ')', '') AS project
    FROM holds h
    LEFT JOIN project_tasks pt ON pt.hold_id = h.id
    LEFT JOIN projects p ON p.id = pt.project_id
    WHERE h.status = 'pending' ORDER BY h.created_at`;
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
      pending.map(
        (h) =>
          `hold ${h.id} for ${h.amount} (task ${h.cause}, made ${h.created.toISOString().slice(11, 23)}) pending; ` +
          `the task is ${h.task ?? 'not linked to it'}, its project ${h.project ?? 'unknown'}`,
      ),
    ),
  ];
}
