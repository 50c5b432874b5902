// Shared plumbing for the broker harnesses: find a free port, spawn a binary, wait until it listens.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a probe socket'));
      });
    });
  });
}

/** Throws a message that says how to install `binary` when it is not on the PATH. */
export function requireBinary(binary: string, installHint: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(`${binary} was not found on the PATH; the integration tests need it. Install it: ${installHint}`);
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => { socket.destroy(); resolve(false); });
  });
}

export interface SpawnedServer {
  child: ChildProcess;
  /** What the process wrote to stdout and stderr, for error messages. */
  output(): string;
}

/** Spawns `binary args` and resolves once `port` accepts connections; fails with the server's output. */
export async function spawnAndWait(binary: string, args: string[], port: number, timeoutMs = 15_000): Promise<SpawnedServer> {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => { output = (output + chunk.toString()).slice(-8_000); };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let exited: string | undefined;
  child.once('exit', (code, signal) => { exited = `exited with ${signal ?? `code ${code}`}`; });
  child.once('error', (err) => { exited = `could not start: ${err.message}`; });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) break;
    if (await canConnect(port)) return { child, output: () => output };
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error(`${binary} ${args.join(' ')} did not listen on 127.0.0.1:${port} (${exited ?? `timed out after ${timeoutMs} ms`}). Its output:\n${output}`);
}

/** Stops a child: SIGTERM (or SIGKILL when `kill`), then waits for it to exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A server process tests can stop, kill and start again on the same port and files. */
export interface ManagedServer {
  /** Clean shutdown (SIGTERM); its files stay for `start()`. */
  stop(): Promise<void>;
  /** Abrupt end (SIGKILL), as a crash or power cut. */
  kill(): Promise<void>;
  /** Starts it again on the same port with the same files. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Kills it and deletes `workDir`. */
  dispose(): Promise<void>;
  /** The running process's id (undefined while stopped), e.g. to read its memory use. */
  pid(): number | undefined;
}

/** Starts `binary args` listening on `port`, with `workDir` deleted on dispose. */
export async function startManagedServer(binary: string, args: string[], port: number, workDir: string): Promise<ManagedServer> {
  let server: SpawnedServer | undefined;
  const managed: ManagedServer = {
    async start() {
      if (server && server.child.exitCode === null && server.child.signalCode === null) return;
      server = await spawnAndWait(binary, args, port);
    },
    async stop() {
      if (server) await stopChild(server.child, 'SIGTERM');
    },
    async kill() {
      if (server) await stopChild(server.child, 'SIGKILL');
    },
    async restart() {
      await managed.stop();
      await managed.start();
    },
    async dispose() {
      await managed.kill();
      await rm(workDir, { recursive: true, force: true });
    },
    pid() {
      return server && server.child.exitCode === null && server.child.signalCode === null ? server.child.pid : undefined;
    },
  };
  await managed.start();
  return managed;
}

/**
 * Runs a service entry point (`node <entry>`) in a process of its own, as a deployment would, and
 * resolves once it printed its banner (`MES is running`); rejects with its output if it exits or
 * takes longer than `timeoutMs`.
 */
export async function startServiceProcess(entry: string, env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<ChildProcess> {
  const child = spawn(process.execPath, [entry], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes('MES is running')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${entry} exited with ${signal ?? `code ${String(code)}`}:\n${output}`));
    });
  });
  return child;
}
