// A nats-server with JetStream for `npm start` when nothing answers at NATS_URL: spawned in a process
// group of its own, so a Ctrl-C at the terminal reaches this process only and the services can drain
// their NATS connection before the server is stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { delimiter, join, resolve } from 'node:path';
import { waitUntilAnswers } from './tcp.js';

/** The full path of `binary` in the directories of `path` (a PATH value), or undefined. */
export function findOnPath(binary: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface DevelopmentNatsServer {
  /** SIGTERM, then waits for the exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

export interface DevelopmentNatsServerOptions {
  binary: string;
  host: string;
  port: number;
  /** JetStream store (-sd). */
  storeDir: string;
  /** Told when the server ends after start-up while nobody asked it to, with the end of its output. */
  onUnexpectedExit(description: string, output: string): void;
}

export async function startDevelopmentNatsServer(options: DevelopmentNatsServerOptions): Promise<DevelopmentNatsServer> {
  await mkdir(options.storeDir, { recursive: true });
  const args = ['-a', options.host, '-p', String(options.port), '-js', '-sd', resolve(options.storeDir)];
  const child: ChildProcess = spawn(options.binary, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let ended: string | undefined;
  let up = false;
  let stopping = false;
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      ended = `exited with ${signal ?? `code ${code}`}`;
      if (up && !stopping) options.onUnexpectedExit(ended, output);
      resolveExit();
    });
  });
  child.once('error', (err) => {
    ended = `could not start: ${err.message}`;
  });

  const signalStop = () => {
    stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  // However this process ends (short of SIGKILL), the server it started does not outlive it.
  process.once('exit', signalStop);
  void exited.then(() => process.off('exit', signalStop));
  try {
    await waitUntilAnswers(options.host, options.port, () => ended);
  } catch (err) {
    signalStop();
    child.kill('SIGKILL');
    throw new Error(`${options.binary} ${args.join(' ')} did not start: ${(err as Error).message}${output.trim() === '' ? '' : `; its output:\n${output.trim()}`}`);
  }
  up = true;
  return {
    async stop() {
      if (ended !== undefined) return;
      signalStop();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
