export { holdSweeperWorkflow } from './hold-sweeper';
