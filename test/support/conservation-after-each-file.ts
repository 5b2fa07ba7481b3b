import { closeTestLedger, openTestLedger } from './db';

/** After every test file: the ledger's promises hold over the whole database (DESIGN.md §10). */
afterAll(async () => {
  const opened = await openTestLedger(1);
  try {
    const report = await opened.ledger.conservation();
    expect(report.sumPosted).toBe(0);
    expect(report.postedMismatches).toEqual([]);
    expect(report.heldMismatches).toEqual([]);
    expect(report.negativeUserAccounts).toBe(0);
  } finally {
    await closeTestLedger(opened);
  }
});
