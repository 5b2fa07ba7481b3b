export { holdSweeperWorkflow } from './hold-sweeper';
export { projectWorkflow } from './project';
export { duplicateChargeWorkflow, purchaseRefundedWorkflow, purchaseWorkflow } from './purchase';
export { withdrawalWorkflow } from './withdrawal';
