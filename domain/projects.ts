/** A MultiTask project's progress, as the workflow, the database and the API all describe it. */
export const PROJECT_STATUSES = ['running', 'paused', 'completed', 'cancelled', 'failed'] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

export interface PausedReason {
  code: 'insufficient_credits';
  needed: number;
  available: number;
}

export interface ProjectProgress {
  status: ProjectStatus;
  tasksCompleted: number;
  tasksTotal: number;
  creditsSpent: number;
  creditsReserved: number;
  pausedReason: PausedReason | null;
}
