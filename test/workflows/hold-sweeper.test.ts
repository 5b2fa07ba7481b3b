import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { historyFromJSON, historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { holdSweeperWorkflow } from '../../workflows';
import { startTestApp, type TestApp } from '../support/app';
import { fundedUser } from '../support/db';
import { startTestWorker, type TestWorker, workflowBundle } from '../support/worker';

const FIXTURE = path.join(__dirname, 'histories', 'hold-sweeper.json');
let app: TestApp;
let worker: TestWorker;

beforeAll(async () => {
  app = await startTestApp();
  worker = await startTestWorker(app);
});
afterAll(async () => {
  await worker.stop();
  await app.close();
});

async function holdStatus(id: string): Promise<string> {
  const [row] = await app.sql<{ status: string }[]>`SELECT status FROM holds WHERE id = ${id}`;
  return row!.status;
}

test('when the sweeper workflow runs, then an expired hold is released without anyone touching it', async () => {
  const { user } = await fundedUser(app.sql, app.ledger, 100);
  const holdId = randomUUID();
  await app.ledger.hold({
    idempotencyKey: holdId,
    holdId,
    userId: user.id,
    amount: 70,
    kind: 'task',
    expiresInSeconds: 1,
  });
  const handle = await app.temporal.workflow.start(holdSweeperWorkflow, {
    taskQueue: worker.taskQueue,
    workflowId: `test-sweeper-${randomUUID()}`,
    args: [{ intervalSeconds: 1, sweepsPerRun: 3 }],
  });
  const deadline = Date.now() + 15_000;
  while ((await holdStatus(holdId)) === 'pending' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  expect(await holdStatus(holdId)).toBe('expired');
  expect(await app.ledger.balance(user.id)).toMatchObject({ posted: 100, held: 0, available: 100 });

  // Let it reach continue-as-new once, then keep its first run's history as the replay fixture.
  const firstRunId = handle.firstExecutionRunId;
  const firstRun = app.temporal.workflow.getHandle(handle.workflowId, firstRunId);
  while ((await firstRun.describe()).status.name === 'RUNNING') await new Promise((r) => setTimeout(r, 200));
  expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');
  const history = await firstRun.fetchHistory();
  await handle.terminate('test done');
  await Worker.runReplayHistory(
    { workflowBundle: { codePath: await workflowBundle() } },
    history,
    handle.workflowId,
  );
  if (process.env.UPDATE_HISTORIES === '1') await writeFile(FIXTURE, historyToJSON(history!));
});

test('when the committed sweeper history is replayed on today’s code, then it is deterministic', async () => {
  const history = historyFromJSON(JSON.parse(await readFile(FIXTURE, 'utf8')));
  await expect(
    Worker.runReplayHistory(
      { workflowBundle: { codePath: await workflowBundle() } },
      history,
      'hold-sweeper-fixture',
    ),
  ).resolves.toBeUndefined();
});
