import {
  Connection,
  type ConnectionOptions,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
} from '@temporalio/client';

type Interceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/**
 * The longest one of the calls below may take, its retries included. Without a deadline a call
 * to an unreachable Temporal is retried for about 20 s (the SDK's 10 attempts) and a call to one
 * that stopped answering waits forever; the API must answer 503 within a few seconds instead.
 */
export const TEMPORAL_CALL_DEADLINE_MS = 4000;

/**
 * The requests that answer at once when Temporal is healthy: the starts, signals and cancels the
 * use cases send, and the health probe. Long polls (a workflow's result, an update's outcome)
 * wait for the workflow on purpose and keep the SDK's own behaviour.
 */
const PROMPT_METHODS = new Set(
  [
    'StartWorkflowExecution',
    'SignalWorkflowExecution',
    'SignalWithStartWorkflowExecution',
    'RequestCancelWorkflowExecution',
    'TerminateWorkflowExecution',
    'DescribeWorkflowExecution',
    'GetSystemInfo',
  ].map((name) => `/temporal.api.workflowservice.v1.WorkflowService/${name}`),
);

/**
 * Gives each prompt call without a deadline of its own one TEMPORAL_CALL_DEADLINE_MS from now.
 * It changes only the options, so it hands on the next call as it is; grpc-js chains interceptors
 * through that interface, but types an interceptor's result as its InterceptingCall class (which
 * would mean importing grpc-js, not a dependency of ours), hence the cast.
 */
const promptCallDeadline: Interceptor = (options, nextCall) =>
  nextCall(
    options.deadline === undefined && PROMPT_METHODS.has(options.method_definition.path)
      ? { ...options, deadline: Date.now() + TEMPORAL_CALL_DEADLINE_MS }
      : options,
  ) as ReturnType<Interceptor>;

/**
 * The client's connection to Temporal: the SDK's retries, inside a deadline for prompt calls
 * (first in the list, so every retry shares the one deadline). `lazy` connects at the first call
 * (and again after Temporal comes back: a lazy connection keeps no failed state).
 */
export async function connectTemporal(options: {
  address: string;
  lazy?: boolean | undefined;
}): Promise<Connection> {
  const connectionOptions: ConnectionOptions = {
    address: options.address,
    interceptors: [promptCallDeadline, makeGrpcRetryInterceptor(defaultGrpcRetryOptions())],
  };
  return options.lazy ? Connection.lazy(connectionOptions) : Connection.connect(connectionOptions);
}
