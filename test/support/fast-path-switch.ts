import type * as FastPathModule from '../../api/usage-fast-path';

/**
 * The usage fast path as tests see it: counted (which requests it served) and switchable off (so
 * Express answers the very same request). A test file installs it with
 *   jest.mock('../../api/usage-fast-path', () => jest.requireActual('../support/fast-path-switch').switchableFastPath());
 * so api/app.ts builds the wrapped one, and reads or sets `fastPathSwitch`.
 */
export const fastPathSwitch = { enabled: true, served: 0 };

export function switchableFastPath(): typeof FastPathModule {
  const actual = jest.requireActual<typeof FastPathModule>('../../api/usage-fast-path');
  return {
    ...actual,
    usageFastPath: (...args: Parameters<typeof actual.usageFastPath>): FastPathModule.FastPath => {
      const fast = actual.usageFastPath(...args);
      return (req, res) => {
        if (!fastPathSwitch.enabled) return false;
        const served = fast(req, res);
        if (served) fastPathSwitch.served += 1;
        return served;
      };
    },
  };
}
