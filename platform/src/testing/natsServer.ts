// An isolated nats-server with JetStream for integration tests: free port, temporary store,
// and stop / restart / kill so tests can show what survives an outage.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, spawnAndWait, stopChild, type SpawnedServer } from './processHarness.js';

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Clean shutdown (SIGTERM); the store stays for `start()`. */
  stop(): Promise<void>;
  /** Abrupt end (SIGKILL), as a crash or power cut. */
  kill(): Promise<void>;
  /** Starts again on the same port with the same store. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and deletes its store. */
  dispose(): Promise<void>;
}

const INSTALL_HINT = 'apt-get install -y nats-server (Debian), or put the nats-server binary on the PATH';

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<NatsServerHandle> {
  requireBinary('nats-server', INSTALL_HINT);
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'mes-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (options.jetstream ?? true) args.push('-js', '-sd', storeDir);
  let server: SpawnedServer | undefined;

  const handle: NatsServerHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async start() {
      if (server && server.child.exitCode === null && server.child.signalCode === null) return;
      server = await spawnAndWait('nats-server', args, port);
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
      await rm(storeDir, { recursive: true, force: true });
    },
  };
  await handle.start();
  return handle;
}
