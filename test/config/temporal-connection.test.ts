import type { AsyncLocalStorage } from 'node:async_hooks';
import { Connection } from '@temporalio/client';
import { HookFreeConnection } from '../../config/temporal-connection';

/** Node 20's AsyncLocalStorage keeps the process-wide promise hook on while `enabled` is true. */
function hooksOn(storage: AsyncLocalStorage<unknown>): boolean {
  return (storage as unknown as { enabled?: boolean }).enabled === true;
}

const address = () => process.env.TEMPORAL_ADDRESS!;

describe('the Temporal client connection', () => {
  test('when the SDK connection makes a call, then it leaves the promise hook on (the cost we avoid)', async () => {
    const plain = await Connection.connect({ address: address() });
    try {
      await plain.workflowService.describeNamespace({ namespace: 'default' });
      expect(hooksOn(plain.callContextStorage)).toBe(true);
    } finally {
      await plain.close();
    }
  });

  test('when HookFreeConnection makes calls, then they work and the hook is off once none is in flight', async () => {
    const connection = await HookFreeConnection.open({ address: address() });
    try {
      expect(hooksOn(connection.callContextStorage)).toBe(false);
      // Namespaced calls go through withMetadata: the header must still reach the server.
      const [a, b] = await Promise.all([
        connection.workflowService.describeNamespace({ namespace: 'default' }),
        connection.withDeadline(Date.now() + 5000, () => connection.workflowService.getSystemInfo({})),
      ]);
      expect(a.namespaceInfo?.name).toBe('default');
      expect(b).toBeDefined();
      expect(hooksOn(connection.callContextStorage)).toBe(false);
      // A deadline set through the storage is still applied to the call it scopes.
      await expect(
        connection.withDeadline(Date.now() - 1, () => connection.workflowService.getSystemInfo({})),
      ).rejects.toThrow(/deadline/i);
      expect(hooksOn(connection.callContextStorage)).toBe(false);
    } finally {
      await connection.close();
    }
  });
});
