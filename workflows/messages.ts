/**
 * Every task queue, signal, query and update, defined once: api/, worker/, workflows/ and the
 * tests import them from here.
 */
export const TASK_QUEUE = 'credits-billing';

/** Business-derived workflow ids: a retried start can never create a second run. */
export const workflowIds = {
  holdSweeper: () => 'ledger-hold-sweeper',
};
