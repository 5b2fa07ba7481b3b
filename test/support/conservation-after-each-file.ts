import { Ledger } from '../../db/ledger';
import { testPool } from './db';

/** After every test file: the ledger's promises hold over the whole database (DESIGN.md §10). */
afterAll(async () => {
  const sql = testPool(1);
  const ledger = await Ledger.open(sql);
  try {
    const report = await ledger.conservation();
    expect(report.sumPosted).toBe(0);
    expect(report.postedMismatches).toEqual([]);
    expect(report.heldMismatches).toEqual([]);
    expect(report.negativeUserAccounts).toBe(0);
  } finally {
    await ledger.close();
    await sql.end();
  }
});
