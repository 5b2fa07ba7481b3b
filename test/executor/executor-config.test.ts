import { parseEnv } from '../../config/env';
import { executorSettings } from '../../config/executor';

const SECRET = 'a-callback-secret-of-at-least-32-chars';

describe('choosing the executor from the environment', () => {
  test('when EXECUTOR_URL is unset, then the simulator runs the tasks', () => {
    expect(executorSettings(parseEnv({ EXECUTOR_TASK_MS: '10' }))).toEqual({
      kind: 'simulator',
      taskMs: 10,
      usageBp: 10_000,
    });
  });

  test('when EXECUTOR_URL is set with its secret, then the agent runtime does, called back at PUBLIC_URL unless EXECUTOR_CALLBACK_URL says otherwise', () => {
    const env = { EXECUTOR_URL: 'http://runtime:8080', EXECUTOR_CALLBACK_SECRET: SECRET };
    expect(executorSettings(parseEnv({ ...env, PUBLIC_URL: 'https://api.example' }))).toEqual({
      kind: 'http',
      url: 'http://runtime:8080',
      callbackUrl: 'https://api.example',
      secret: SECRET,
    });
    expect(
      executorSettings(
        parseEnv({ ...env, PUBLIC_URL: 'https://api.example', EXECUTOR_CALLBACK_URL: 'http://api:3000' }),
      ),
    ).toMatchObject({ callbackUrl: 'http://api:3000' });
  });

  test.each([
    [{ EXECUTOR_URL: 'http://runtime' }, /EXECUTOR_CALLBACK_SECRET: required with EXECUTOR_URL/],
    [
      { EXECUTOR_URL: 'http://runtime', EXECUTOR_CALLBACK_SECRET: SECRET },
      /^invalid configuration: EXECUTOR_CALLBACK_URL: required with EXECUTOR_URL/,
    ],
    [
      { EXECUTOR_CALLBACK_SECRET: 'short' },
      /^invalid configuration: EXECUTOR_CALLBACK_SECRET: must be at least 32/,
    ],
    [{ EXECUTOR_URL: 'ftp://runtime' }, /^invalid configuration: EXECUTOR_URL: must start with http/],
  ])('when the executor is half-configured (%j), then parsing fails naming the variable', (env, message) => {
    expect(() => parseEnv(env)).toThrow(message);
  });
});
