import type { WorkflowHandle } from '@temporalio/client';
import { type ProjectProgress, projectProgressQuery } from '../../workflows/messages';

/** Polls a project's progress query in real time (queries do not skip time) until `predicate` holds. */
export async function progressWhen(
  handle: Pick<WorkflowHandle, 'query'>,
  predicate: (p: ProjectProgress) => boolean,
  timeoutMs = 10_000,
): Promise<ProjectProgress> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const progress = await handle.query(projectProgressQuery);
    if (predicate(progress)) return progress;
    if (Date.now() > deadline) throw new Error(`progress never matched: ${JSON.stringify(progress)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
