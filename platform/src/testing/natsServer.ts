// An isolated nats-server with JetStream for integration tests: free port, temporary store,
// and stop / restart / kill so tests can show what survives an outage.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, startManagedServer, type ManagedServer } from './processHarness.js';

export interface NatsServerHandle extends ManagedServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
}

const INSTALL_HINT = 'apt-get install -y nats-server (Debian), or put the nats-server binary on the PATH';

export async function startNatsServer(options: { jetstream?: boolean } = {}): Promise<NatsServerHandle> {
  requireBinary('nats-server', INSTALL_HINT);
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'mes-nats-'));
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (options.jetstream ?? true) args.push('-js', '-sd', storeDir);
  const server = await startManagedServer('nats-server', args, port, storeDir);
  return Object.assign(server, { url: `nats://127.0.0.1:${port}`, port, storeDir });
}
