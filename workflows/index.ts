export { holdSweeperWorkflow } from './hold-sweeper';
export { duplicateChargeWorkflow, purchaseRefundedWorkflow, purchaseWorkflow } from './purchase';
