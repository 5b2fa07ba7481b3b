import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { quietRuntime, workflowBundle } from './time-skipping';

const HISTORIES = path.join(__dirname, 'histories');

/**
 * Every committed history replays on today's workflow code: a change that would break a run
 * already in flight (a new command where an old one was recorded) fails here; such a change
 * goes behind `patched()`. The histories are recorded by the tests that name them.
 */
test('when every committed workflow history is replayed on today’s code, then each is deterministic', async () => {
  const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();
  expect(files).toEqual(
    expect.arrayContaining([
      'auto-top-up-credited.json',
      'auto-top-up-declined-suspended.json',
      'hold-sweeper.json',
      'operator-refund-succeeded.json',
      'project-pause-resume.json',
      'project-agents.json',
      'project-budget-pause-raise.json',
      'purchase-paid.json',
      'purchase-refunded-whole.json',
      'purchase-refunded-proportional.json',
      'withdrawal-paid.json',
    ]),
  );
  quietRuntime();
  const bundle = { workflowBundle: { codePath: await workflowBundle() } };
  for (const file of files) {
    const history = historyFromJSON(JSON.parse(await readFile(path.join(HISTORIES, file), 'utf8')));
    await expect(Worker.runReplayHistory(bundle, history, file)).resolves.toBeUndefined();
  }
});
