// An isolated Mosquitto broker for integration tests, on a free loopback port.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, startManagedServer, type ManagedServer } from './processHarness.js';

export interface MosquittoHandle extends ManagedServer {
  readonly url: string;
  readonly port: number;
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
  const server = await startManagedServer('mosquitto', ['-c', configPath], port, dir);
  return Object.assign(server, { url: `mqtt://127.0.0.1:${port}`, port });
}
