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

/** The longest pause between two tries of a prompt call (the SDK's grows to 5 s). */
const MAX_RETRY_PAUSE_MS = 500;
/**
 * Tries of a prompt call (the SDK makes 10). A refused Temporal fails each try at once, so the
 * pauses alone set how long the API takes to say 503: about 1.5 s for 6 tries, 4 s for 10. A
 * blip shorter than that is still ridden out.
 */
const PROMPT_ATTEMPTS = 6;

/**
 * The SDK's retry policy (which statuses, the growing pause) for a call that must end by
 * `deadline` (ms since the epoch): PROMPT_ATTEMPTS tries, pauses of at most MAX_RETRY_PAUSE_MS,
 * and no try that would begin after the deadline. The SDK's retry interceptor sleeps without looking at the
 * deadline: a 2.4 s pause begun at 3.2 s ran a last try at 5.6 s, and a pause still pending
 * when the connection was closed threw "Channel has been shut down" out of its timer.
 */
function retriesWithin(deadline: number) {
  const sdk = defaultGrpcRetryOptions();
  type Status = Parameters<typeof sdk.delayFunction>[1];
  return {
    delayFunction: (attempt: number, status: Status) =>
      Math.min(sdk.delayFunction(attempt, status), MAX_RETRY_PAUSE_MS),
    retryableDecider: (attempt: number, status: Status) =>
      attempt < PROMPT_ATTEMPTS &&
      sdk.retryableDecider(attempt, status) &&
      Date.now() + MAX_RETRY_PAUSE_MS < deadline,
  };
}

const sdkRetries = makeGrpcRetryInterceptor(defaultGrpcRetryOptions());

/** The longest gRPC waits before connecting again to a Temporal it lost. */
const MAX_RECONNECT_PAUSE_MS = 2000;

/**
 * Prompt calls get a deadline (their own if the caller set one, else TEMPORAL_CALL_DEADLINE_MS
 * from now) and retries that end by it; every other call keeps the SDK's retries.
 */
const retriesByDeadline: Interceptor = (options, nextCall) => {
  if (!PROMPT_METHODS.has(options.method_definition.path)) return sdkRetries(options, nextCall);
  const deadline =
    options.deadline === undefined ? Date.now() + TEMPORAL_CALL_DEADLINE_MS : Number(options.deadline);
  return makeGrpcRetryInterceptor(retriesWithin(deadline))({ ...options, deadline }, nextCall);
};

/**
 * The client's connection to Temporal, with the retries above. `lazy` connects at the first call
 * (and again after Temporal comes back: a lazy connection keeps no failed state).
 */
export async function connectTemporal(options: {
  address: string;
  lazy?: boolean | undefined;
}): Promise<Connection> {
  const connectionOptions: ConnectionOptions = {
    address: options.address,
    interceptors: [retriesByDeadline],
    // gRPC waits longer and longer between reconnects (up to 120 s) while Temporal is away, and
    // a call in that wait fails at once: after a 40 s outage starts worked again only 18.6 s
    // after Temporal was back. Trying at least every 2 s, the API recovers within about that.
    channelArgs: { 'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_PAUSE_MS },
  };
  return options.lazy ? Connection.lazy(connectionOptions) : Connection.connect(connectionOptions);
}
