import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { ProjectWorkflowActivities } from '../../activities';
import type { ProjectBudgetActivities, Reservation } from '../../activities/projects';
import {
  cancelProjectSignal,
  type PausedReason,
  PROJECT_BUDGET_REFUSED,
  type ProjectInput,
  type ProjectProgress,
  type ProjectTask,
  projectProgressQuery,
  setProjectBudgetUpdate,
  topUpSignal,
  workflowIds,
} from '../../workflows/messages';
import { BUDGET_RECORD_ACTIVITY_PATCH, PROJECT_BUDGET_PATCH, projectWorkflow } from '../../workflows/project';
import { waitFor } from '../support/wait';
import { progressWhen } from './project-progress';
import { type StubWorker, startStubWorker, startTimeSkipping, workflowBundle } from './time-skipping';

/**
 * Project budgets (DESIGN.md §13) in the project workflow, on the time-skipping server with an
 * in-memory ledger of stubbed activities: a re-check timer that would wrongly resume a project
 * paused for its budget fires in an instant. test/projects/budgets.test.ts proves the wiring.
 */

type Activities = ProjectWorkflowActivities & ProjectBudgetActivities;

const ACTIVITIES = [
  'chargePlanning',
  'planTasks',
  'reserveTask',
  'settleTask',
  'releaseTask',
  'setProjectStatus',
  'executeTask',
  'autoTopUpInFlight',
  'saveProjectBudget',
] as const satisfies readonly (keyof Activities)[];

const PLANNING = 50;

let env: TestWorkflowEnvironment;
let worker: StubWorker<Activities>;
beforeAll(async () => {
  env = await startTimeSkipping();
  worker = await startStubWorker<Activities>(env, ACTIVITIES);
});
afterAll(async () => {
  await worker?.stop();
  await env?.teardown();
});

const task = (title: string, estimate = 25): ProjectTask => ({ title, size: 'small', estimate });
const tasks = (n: number, estimate = 25) => Array.from({ length: n }, (_, i) => task(`t${i + 1}`, estimate));

let seq = 0;
function projectInput(
  tasksOrNull: ProjectTask[] | null,
  overrides: Partial<ProjectInput> = {},
): ProjectInput {
  seq++;
  return {
    projectId: `budget-project-${seq}`,
    userId: 'user-1',
    rateCardVersion: 1,
    tasks: tasksOrNull,
    prompt: tasksOrNull ? null : 'plan it',
    recheckSeconds: 60,
    tasksPerRun: 100,
    ...(tasksOrNull ? {} : { planningCredits: PLANNING }),
    ...overrides,
  };
}

/**
 * An in-memory ledger behind the stubs (reserve holds the estimate, settle posts it), recording
 * what the workflow asked for; `gate(position)` holds that task's execution until it is opened.
 */
function fakeLedger(balance: number) {
  const state = {
    available: balance,
    spent: 0,
    holds: new Map<string, number>(),
    statuses: [] as { status: string; code?: string | undefined }[],
    pauses: [] as PausedReason[],
    reserved: [] as number[],
    planningCharged: 0,
    budgetsSaved: [] as number[],
  };
  const gates = new Map<number, Promise<void>>();
  const stubs: Activities = {
    async chargePlanning(): Promise<Reservation> {
      if (state.available < PLANNING) return { ok: false, needed: PLANNING, available: state.available };
      state.available -= PLANNING;
      state.spent += PLANNING;
      state.planningCharged++;
      return { ok: true, holdId: '' };
    },
    async planTasks() {
      return [task('planned one'), task('planned two')];
    },
    async reserveTask(input): Promise<Reservation> {
      if (state.available < input.estimate)
        return { ok: false, needed: input.estimate, available: state.available };
      state.available -= input.estimate;
      state.holds.set(`hold-${input.position}`, input.estimate);
      state.reserved.push(input.position);
      return { ok: true, holdId: `hold-${input.position}` };
    },
    async settleTask(input) {
      const held = state.holds.get(input.holdId) ?? 0;
      state.holds.delete(input.holdId);
      state.available += held - input.usedCredits;
      state.spent += input.usedCredits;
      return { cost: input.usedCredits, creditsSpent: state.spent };
    },
    async releaseTask(input) {
      state.available += state.holds.get(input.holdId) ?? 0;
      state.holds.delete(input.holdId);
    },
    async setProjectStatus(input) {
      state.statuses.push({ status: input.status, code: input.pausedReason?.code });
      if (input.pausedReason) state.pauses.push(input.pausedReason);
    },
    async executeTask(input) {
      await gates.get(input.position);
      return { output: `done ${input.title}`, usedCredits: input.estimate };
    },
    async autoTopUpInFlight() {
      return { inFlight: false, purchaseId: null, since: null };
    },
    async saveProjectBudget(input) {
      state.budgetsSaved.push(input.maxCredits);
    },
  };
  const gate = (position: number) => {
    let open = () => {};
    gates.set(position, new Promise<void>((resolve) => (open = resolve)));
    return () => open();
  };
  return { state, stubs, gate };
}

async function start(stubs: Activities, input: ProjectInput) {
  worker.use(stubs);
  return env.client.workflow.start(projectWorkflow, {
    taskQueue: worker.taskQueue,
    workflowId: workflowIds.project(input.projectId),
    args: [input],
  });
}

type Handle = Awaited<ReturnType<typeof start>>;

const pausedFor = (code: string) => (p: ProjectProgress) =>
  p.status === 'paused' && p.pausedReason?.code === code;

/** The update's refusal: its ApplicationFailure type and message. */
async function refusal(promise: Promise<unknown>): Promise<{ type: string | undefined; message: string }> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (error as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return {
    type: (cause as ApplicationFailure).type ?? undefined,
    message: (cause as ApplicationFailure).message,
  };
}

async function updateEvents(handle: Handle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
}

test('when the budget pays only some tasks, then those run and the project pauses with budget_exhausted before the first that would cross it, and neither a top-up nor the re-check timer resumes it', async () => {
  const { state, stubs } = fakeLedger(1000);
  const handle = await start(stubs, projectInput(tasks(4), { maxCredits: 60 }));
  const paused = await progressWhen(handle, pausedFor('budget_exhausted'));
  expect(paused).toMatchObject({
    tasksCompleted: 2,
    creditsSpent: 50,
    creditsReserved: 0,
    pausedReason: { code: 'budget_exhausted', budget: 60, spent: 50, needed: 25 },
  });
  expect(paused.pausedReason?.message).toMatch(/budget is 60 credits, 50 are spent, task 3 needs 25/);
  expect(state.reserved).toEqual([0, 1]);

  await handle.signal(topUpSignal, { reason: 'purchase', available: state.available });
  await env.sleep('1 day'); // many re-check periods
  expect(await handle.query(projectProgressQuery)).toMatchObject({ status: 'paused', tasksCompleted: 2 });
  expect(state.reserved).toEqual([0, 1]);
  expect(state.statuses).toEqual([{ status: 'paused', code: 'budget_exhausted' }]);
  await handle.signal(cancelProjectSignal, { reason: 'done testing' });
  expect(await handle.result()).toMatchObject({ status: 'cancelled', tasksCompleted: 2, creditsSpent: 50 });
  expect(state.spent).toBeLessThanOrEqual(60);
});

test('when the budget is raised while paused for it, then the update answers once the project resumed, and it completes', async () => {
  const { state, stubs } = fakeLedger(1000);
  const handle = await start(stubs, projectInput(tasks(4), { maxCredits: 60 }));
  await progressWhen(handle, pausedFor('budget_exhausted'));
  const changed = await handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 100 }] });
  expect(changed).toMatchObject({ maxCredits: 100, status: 'running' });
  expect(await handle.result()).toMatchObject({ status: 'completed', tasksCompleted: 4, creditsSpent: 100 });
  expect(state.budgetsSaved).toEqual([100]);
  expect(state.statuses.map((s) => s.status)).toEqual(['paused', 'running', 'completed']);
});

test('when a budget below what is spent, or not a whole positive number, is sent, then the update is refused and nothing changes', async () => {
  const { state, stubs } = fakeLedger(1000);
  const handle = await start(stubs, projectInput(tasks(4), { maxCredits: 60 }));
  await progressWhen(handle, pausedFor('budget_exhausted'));
  const below = await refusal(handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 49 }] }));
  expect(below).toEqual({ type: PROJECT_BUDGET_REFUSED, message: 'must be at least 50, already spent' });
  for (const bad of [0, 1.5, -1, '100', 1_000_000_001]) {
    const refused = await refusal(
      handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: bad as number }] }),
    );
    expect(refused.type).toBe(PROJECT_BUDGET_REFUSED);
  }
  expect(await handle.query(projectProgressQuery)).toMatchObject({
    status: 'paused',
    pausedReason: { code: 'budget_exhausted', budget: 60 },
  });
  expect(state.budgetsSaved).toEqual([]);
  expect(await updateEvents(handle)).toBe(0); // refused updates never reach the history
  await handle.signal(cancelProjectSignal, { reason: 'done testing' });
  await handle.result();
});

test('when the budget is lowered while a task runs, then it may not go below that task’s reservation, the task completes, and no further task starts', async () => {
  const { state, stubs, gate } = fakeLedger(1000);
  const openSecond = gate(1);
  const handle = await start(stubs, projectInput(tasks(4), { maxCredits: 1000 }));
  await progressWhen(handle, (p) => p.tasksCompleted === 1 && p.creditsReserved === 25);

  const refused = await refusal(handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 49 }] }));
  expect(refused.message).toBe(
    'must be at least 50, already spent (25 spent, 25 reserved for the task in progress)',
  );
  const changed = await handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 50 }] });
  expect(changed).toMatchObject({ maxCredits: 50, status: 'running', creditsSpent: 25, creditsReserved: 25 });

  openSecond();
  const paused = await progressWhen(handle, pausedFor('budget_exhausted'));
  expect(paused).toMatchObject({
    tasksCompleted: 2,
    creditsSpent: 50,
    pausedReason: { budget: 50, spent: 50, needed: 25 },
  });
  expect(state.reserved).toEqual([0, 1]);
  await handle.signal(cancelProjectSignal, { reason: 'done testing' });
  await handle.result();
});

test('when a prompt project’s budget cannot pay planning, then it pauses before planning and plans once the budget is raised', async () => {
  const { state, stubs } = fakeLedger(1000);
  const handle = await start(stubs, projectInput(null, { maxCredits: 40 }));
  const paused = await progressWhen(handle, pausedFor('budget_exhausted'));
  expect(paused.pausedReason).toMatchObject({ budget: 40, spent: 0, needed: PLANNING });
  expect(paused.pausedReason?.message).toMatch(/planning needs 50/);
  expect(state.planningCharged).toBe(0);
  await handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 75 }] });
  // Planning (50) and the first planned task (25) fit; the second would cross 75.
  const again = await progressWhen(handle, (p) => pausedFor('budget_exhausted')(p) && p.tasksCompleted === 1);
  expect(again).toMatchObject({ creditsSpent: 75, pausedReason: { budget: 75, spent: 75, needed: 25 } });
  await handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 100 }] });
  expect(await handle.result()).toMatchObject({ status: 'completed', tasksCompleted: 2, creditsSpent: 100 });
  expect(state.planningCharged).toBe(1);
});

test('when the balance runs out before the budget, then the project pauses with insufficient_credits, and a budget lowered meanwhile pauses it for the budget instead', async () => {
  const { stubs } = fakeLedger(30);
  const handle = await start(stubs, projectInput(tasks(4), { maxCredits: 1000 }));
  const paused = await progressWhen(handle, pausedFor('insufficient_credits'));
  expect(paused.pausedReason).toMatchObject({ code: 'insufficient_credits', needed: 25, available: 5 });
  expect(paused.pausedReason?.message).toMatch(/insufficient credits/);

  await handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 40 }] });
  const budgetPaused = await progressWhen(handle, pausedFor('budget_exhausted'));
  expect(budgetPaused.pausedReason).toMatchObject({ budget: 40, spent: 25, needed: 25 });
  await handle.signal(cancelProjectSignal, { reason: 'done testing' });
  await handle.result();
});

test('when a project with a budget continues as new, then the budget as raised goes with it', async () => {
  const { state, stubs } = fakeLedger(1000);
  const handle = await start(stubs, projectInput(tasks(5), { maxCredits: 60, tasksPerRun: 2 }));
  // Watched through the stubs, not the progress query: the test server may not answer a query
  // sent while a run is continuing as new.
  const budgetPauses = () => state.pauses.filter((r) => r.code === 'budget_exhausted');
  await waitFor('the first budget pause', async () => budgetPauses().length === 1);
  expect(budgetPauses()[0]).toMatchObject({ budget: 60, spent: 50, needed: 25 });
  await handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 100 }] });
  // Two more tasks, a new run, and a pause by the raised budget (not the first one).
  await waitFor('the second budget pause', async () => budgetPauses().length === 2);
  expect(budgetPauses()[1]).toMatchObject({ budget: 100, spent: 100, needed: 25 });
  expect(state.reserved).toEqual([0, 1, 2, 3]);
  const latest = await env.client.workflow.getHandle(handle.workflowId).describe();
  expect(latest.runId).not.toBe(handle.firstExecutionRunId);
  await handle.signal(cancelProjectSignal, { reason: 'done testing' });
  expect(await handle.result()).toMatchObject({ status: 'cancelled', tasksCompleted: 4, creditsSpent: 100 });
});

test('when a run with a budget is replayed, then its history holds the patch marker and replays deterministically', async () => {
  const { stubs } = fakeLedger(1000);
  const handle = await start(stubs, projectInput(tasks(3), { maxCredits: 50 }));
  await progressWhen(handle, pausedFor('budget_exhausted'));
  await handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 75 }] });
  await handle.result();
  const history = await handle.fetchHistory();
  const patches = (history.events ?? [])
    .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')
    .map((e) => {
      const data = e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
      return (JSON.parse(Buffer.from(data ?? []).toString('utf8')) as { id: string }).id;
    });
  expect(patches.sort()).toEqual([BUDGET_RECORD_ACTIVITY_PATCH, PROJECT_BUDGET_PATCH].sort());
  await Worker.runReplayHistory({ workflowBundle: { codePath: await workflowBundle() } }, history, 'budget');
});

test('when a run started with a budget was recorded by a worker that predates budgets, then it still replays as recorded', async () => {
  // A committed pre-budget history (pause, top-up, resume) whose input is given a budget too
  // small for any task: had the check no patch, replay would meet a pause where the recorded run
  // reserved a task, and fail as nondeterministic.
  const file = path.join(__dirname, 'histories', 'project-pause-resume.json');
  const history = historyFromJSON(JSON.parse(await readFile(file, 'utf8')));
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  if (!payload?.data) throw new Error('the committed history has no input');
  const input = JSON.parse(Buffer.from(payload.data).toString('utf8')) as ProjectInput;
  expect(input.maxCredits).toBeUndefined();
  payload.data = Buffer.from(JSON.stringify({ ...input, maxCredits: 1 }));
  await Worker.runReplayHistory(
    { workflowBundle: { codePath: await workflowBundle() } },
    history,
    'pre-budget',
  );
  expect(PROJECT_BUDGET_PATCH).toBe('project-budget');
});

test('when the budget changes while a task’s reservation is in flight, then the run replays deterministically', async () => {
  // The budget update and the main loop's reservation in the same workflow task: the update's
  // record must not be a local activity racing the reservation's (chaos found the replay of
  // such a history failing as nondeterministic on another worker).
  const { state, stubs } = fakeLedger(1000);
  let entered = () => {};
  const reserving = new Promise<void>((resolve) => (entered = resolve));
  let release = () => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const reserveTask = stubs.reserveTask;
  stubs.reserveTask = async (input) => {
    if (input.position === 1) {
      entered();
      await released;
    }
    return reserveTask(input);
  };
  const handle = await start(stubs, projectInput(tasks(3), { maxCredits: 100 }));
  try {
    await reserving;
    const raised = handle.executeUpdate(setProjectBudgetUpdate, { args: [{ maxCredits: 200 }] });
    await waitFor('the budget recorded', async () => state.budgetsSaved.length === 1 || null);
    await new Promise((resolve) => setTimeout(resolve, 300));
    release();
    await expect(raised).resolves.toMatchObject({ maxCredits: 200 });
  } finally {
    // Never left held: the worker's shutdown would wait for the reservation for ever.
    release();
  }
  await handle.result();
  expect(state.budgetsSaved).toEqual([200]);
  await Worker.runReplayHistory(
    { workflowBundle: { codePath: await workflowBundle() } },
    await handle.fetchHistory(),
    'budget-during-reservation',
  );
});
