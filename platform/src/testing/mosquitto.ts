// An isolated Mosquitto broker for integration tests, on a free loopback port.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, requireBinary, startManagedServer, type ManagedServer } from './processHarness.js';

export interface MosquittoHandle extends ManagedServer {
  readonly url: string;
  readonly port: number;
}

const INSTALL_HINT = 'apt-get install -y mosquitto (Debian), or put the mosquitto binary on the PATH';

export interface MosquittoOptions {
  maxQueuedMessages?: number;
  /**
   * Keep sessions, subscriptions and queued messages in a file across restarts, as a production
   * broker does (written on a clean stop; a kill loses what changed since the last save).
   */
  persistence?: boolean;
  /** The listening port; a free one unless told. */
  port?: number;
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoHandle> {
  requireBinary('mosquitto', INSTALL_HINT);
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'mes-mosquitto-'));
  const configPath = join(dir, 'mosquitto.conf');
  await writeFile(
    configPath,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      ...(options.persistence ? ['persistence true', `persistence_location ${dir}/`] : ['persistence false']),
      // Started as root, Mosquitto drops to the `mosquitto` user, which cannot write our temporary folder.
      ...(process.getuid?.() === 0 ? [`user ${userInfo().username}`] : []),
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
