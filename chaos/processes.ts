import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

export interface ProcessSpec {
  name: string;
  /** The built entry point, e.g. dist/api/main.js. */
  script: string;
  env: Record<string, string>;
  /** A line on stdout that says the process is serving. */
  readyPattern: RegExp;
  readyTimeoutMs: number;
}

/**
 * One production process (`node dist/...`), killed with SIGKILL and started again by the fault
 * injector. Started with the same `node` that runs the harness, which npm put first on PATH.
 */
export class ManagedProcess {
  private child: ChildProcess | null = null;
  private tail: string[] = [];
  /** Set while the harness itself kills or stops the process, so that exit is not a crash. */
  private expectingExit = false;
  private stopped = false;
  private starting: Promise<void> | null = null;
  starts = 0;

  /**
   * `onCrash` hears of every exit the harness did not cause (the process died by itself); the
   * process is then started again, as a production supervisor would.
   */
  constructor(
    readonly spec: ProcessSpec,
    private readonly log: (line: string) => void,
    private readonly onCrash: (name: string, detail: string) => void,
  ) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Starts the process and resolves when it prints its ready line; retries while it exits early.
   * A start already under way (the supervisor restarting a crashed process) is joined, not doubled.
   */
  start(attempts = 5): Promise<void> {
    this.starting ??= this.startWithRetries(attempts).finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async startWithRetries(attempts: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Stopped while a restart waited: starting now would leave a process nobody stops.
      if (this.stopped) return;
      try {
        return await this.startOnce();
      } catch (error) {
        if (attempt >= attempts) throw error;
        this.log(`${this.spec.name}: ${(error as Error).message}; starting again`);
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  }

  private startOnce(): Promise<void> {
    this.starts++;
    this.tail = [];
    const child = spawn(process.execPath, [path.join(ROOT, this.spec.script)], {
      cwd: ROOT,
      env: { ...process.env, ...this.spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.expectingExit = false;
    let ready = false;
    child.once('exit', (code, signal) => {
      if (!ready || this.expectingExit || this.stopped) return;
      // The whole tail goes to the log (a stack trace spans many lines); the report gets its gist.
      this.log(
        `${this.spec.name} exited by itself (${signal ?? code}); its last output:\n  ${this.tail.join('\n  ')}`,
      );
      // The gist: the last error line (a stack's first line, e.g. "TypeError: ...") and where it was thrown.
      const errorLines = this.tail.flatMap((l, i) => (/^\s*(\w*Error|error)\b/.test(l) ? [i] : []));
      const errorAt = errorLines.at(-1) ?? -1;
      const gist = errorAt < 0 ? this.tail.slice(-2) : this.tail.slice(errorAt, errorAt + 2);
      this.onCrash(
        this.spec.name,
        `exited by itself (${signal ?? code}): ${gist.map((l) => l.trim()).join(' ')}`,
      );
      this.start().catch((error: unknown) => this.log(`${this.spec.name}: restart failed: ${String(error)}`));
    });
    const remember = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
      }
    };
    child.stderr!.on('data', remember);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`not ready in ${this.spec.readyTimeoutMs} ms`));
      }, this.spec.readyTimeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        remember(chunk);
        if (!ready && this.spec.readyPattern.test(chunk.toString())) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`exited (${signal ?? code}) before ready: ${this.tail.slice(-3).join(' | ')}`));
      });
    });
  }

  /** kill -9: no shutdown handler runs, as in a crash or an OOM kill. */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM, then SIGKILL after `graceMs`: the orderly stop at the end of the run. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || !this.running) return;
    const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.signal('SIGTERM');
    clearTimeout(force);
  }

  /** Last resort on exit: synchronous, so it runs inside a process 'exit' handler. */
  killNow(): void {
    this.stopped = true;
    if (this.running) this.child?.kill('SIGKILL');
  }

  lastLines(): string[] {
    return [...this.tail];
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectingExit = true;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }
}
