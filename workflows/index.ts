export { autoTopUpWorkflow } from './auto-top-up';
export { disputeWorkflow } from './dispute';
export { holdSweeperWorkflow } from './hold-sweeper';
export { operatorRefundWorkflow } from './operator-refund';
export { projectWorkflow } from './project';
export { duplicateChargeWorkflow, purchaseRefundedWorkflow, purchaseWorkflow } from './purchase';
export { withdrawalWorkflow } from './withdrawal';
