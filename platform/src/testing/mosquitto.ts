// An isolated Mosquitto broker for integration tests, on a free loopback port.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, spawnAndWait, stopChild, type SpawnedServer } from './processHarness.js';

export interface MosquittoHandle {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

const INSTALL_HINT = 'apt-get install -y mosquitto (Debian), or put the mosquitto binary on the PATH';

export async function startMosquitto(options: { maxQueuedMessages?: number } = {}): Promise<MosquittoHandle> {
  requireBinary('mosquitto', INSTALL_HINT);
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'mes-mosquitto-'));
  const configPath = join(dir, 'mosquitto.conf');
  await writeFile(
    configPath,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      `max_queued_messages ${options.maxQueuedMessages ?? 1000}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  let server: SpawnedServer | undefined;

  const handle: MosquittoHandle = {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async start() {
      if (server && server.child.exitCode === null && server.child.signalCode === null) return;
      server = await spawnAndWait('mosquitto', ['-c', configPath], port);
    },
    async stop() {
      if (server) await stopChild(server.child, 'SIGTERM');
    },
    async kill() {
      if (server) await stopChild(server.child, 'SIGKILL');
    },
    async restart() {
      await handle.stop();
      await handle.start();
    },
    async dispose() {
      await handle.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
