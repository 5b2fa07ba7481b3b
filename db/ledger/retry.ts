/** Postgres errors that mean "run the transaction again": a lost race, not a bad request. */
const RETRYABLE = new Set(['40001', '40P01', '23505']);
const RACE_CONSTRAINTS = new Set([
  'ledger_operations_pkey',
  'ledger_operations_reverses_key',
  'withholdings_releases_key',
]);

function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !RETRYABLE.has(code)) return false;
  // A unique violation is only a lost race when it is the idempotency key (a concurrent twin), a
  // second reversal of one operation or a second release of one withholding: run again, the
  // winner's record decides the answer.
  if (code === '23505')
    return RACE_CONSTRAINTS.has((error as { constraint_name?: string }).constraint_name ?? '');
  return true;
}

/** Runs `work` again (a fresh transaction) after a lost race; the replay then sees the winner's result. */
export async function withRaceRetry<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error)) throw error;
    }
  }
}
