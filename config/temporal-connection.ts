import { Connection, type ConnectionOptions } from '@temporalio/client';

/**
 * A Temporal client connection that does not leave Node's promise hooks on.
 *
 * The SDK's Connection scopes every call (namespace header, deadline, abort signal) with an
 * AsyncLocalStorage `run`. On Node 20 the first `run` turns on an async hook for every promise
 * in the process and it stays on until the storage is disabled, which makes every `await` of
 * the API (the usage hot path included) several times dearer (see BENCHMARKS.md). The storage is
 * only read synchronously when a call starts, so once no call is in flight it is disabled here;
 * the next call enables it again.
 */
export class HookFreeConnection extends Connection {
  private callsInFlight = 0;

  static async open(options: ConnectionOptions): Promise<HookFreeConnection> {
    const connection = (await HookFreeConnection.connect(options)) as HookFreeConnection;
    connection.callContextStorage.disable();
    return connection;
  }

  override withMetadata<R>(metadata: Parameters<Connection['withMetadata']>[0], fn: () => Promise<R>) {
    return this.scoped(() => super.withMetadata(metadata, fn));
  }

  override withDeadline<R>(deadline: number | Date, fn: () => Promise<R>) {
    return this.scoped(() => super.withDeadline(deadline, fn));
  }

  override withAbortSignal<R>(signal: AbortSignal, fn: () => Promise<R>) {
    return this.scoped(() => super.withAbortSignal(signal, fn));
  }

  override withApiKey<R>(apiKey: string, fn: () => Promise<R>) {
    return this.scoped(() => super.withApiKey(apiKey, fn));
  }

  private async scoped<R>(call: () => Promise<R>): Promise<R> {
    this.callsInFlight++;
    try {
      return await call();
    } finally {
      if (--this.callsInFlight === 0) this.callContextStorage.disable();
    }
  }
}
