import { simulatedExecutor, type TaskExecutor } from '../activities/executor';
import { httpExecutor } from '../activities/http-executor';
import type { ExecutorSettings } from '../config/executor';
import type { Sql } from '../db/pool';
import { taskAgent } from '../db/projects';

/** The task executor the settings name: the simulator, or the agent runtime behind HTTP. */
export function buildExecutor(settings: ExecutorSettings, sql: Sql): TaskExecutor {
  switch (settings.kind) {
    case 'simulator':
      return simulatedExecutor({ taskMs: settings.taskMs, usageBp: settings.usageBp });
    case 'http':
      return httpExecutor({
        url: settings.url,
        callbackUrl: settings.callbackUrl,
        secret: settings.secret,
        agentOf: async (projectId, position) => (await taskAgent(sql, projectId, position))?.agentId ?? null,
      });
  }
}
