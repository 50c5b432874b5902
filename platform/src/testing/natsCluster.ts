// A JetStream cluster of nats-server processes on loopback for tests and `npm run cluster`: each node
// has its own server_name, store, client port and cluster port, with routes to every node, so
// streams can be replicated (NATS_REPLICAS) and a node can be stopped, killed and restarted.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, requireBinary, startManagedServer, type ManagedServer } from './processHarness.js';

export interface NatsClusterNode extends ManagedServer {
  readonly name: string;
  /** `nats://127.0.0.1:PORT` of this node alone. */
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly storeDir: string;
}

export interface NatsClusterHandle {
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's URL, comma-separated: the NATS_URL a service gets. */
  readonly url: string;
  readonly urls: readonly string[];
  /** Resolves once the nodes that run elected a JetStream meta leader and answer the JetStream API. */
  waitForJetStream(timeoutMs?: number): Promise<void>;
  /**
   * Resolves once every stream has a leader and current replicas (after a node came back), or fails
   * naming the laggard. Consumers are not listed: listing waits for every consumer's answer, and an
   * in-memory single-replica consumer that lived on a restarted node answers no more.
   */
  waitForReplicasCurrent(timeoutMs?: number): Promise<void>;
  /** Kills every node and deletes the stores (unless the caller gave `dir`). */
  dispose(): Promise<void>;
  /** Stops every node cleanly, keeping the stores. */
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  /** Number of nodes; 3 unless told. */
  size?: number;
  /** Client ports, one per node; free ports unless told. Cluster ports are picked free. */
  ports?: readonly number[];
  /** Where the nodes keep their stores and config files; a temporary folder (deleted on dispose) unless told. */
  dir?: string;
  /** Cluster name; `mes-test` unless told. */
  name?: string;
  /** Each node logs to `nats-server.log` in its folder instead of to its stderr. */
  logToFiles?: boolean;
}

const INSTALL_HINT = 'apt-get install -y nats-server (Debian), or put the nats-server binary on the PATH';

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  requireBinary('nats-server', INSTALL_HINT);
  const size = options.size ?? 3;
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'mes-nats-cluster-')));
  const clusterName = options.name ?? 'mes-test';
  const ports: number[] = [];
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) {
    ports.push(options.ports?.[i] ?? (await freePort()));
    clusterPorts.push(await freePort());
  }
  const routes = clusterPorts.map((port) => `"nats-route://127.0.0.1:${port}"`).join(', ');

  const nodes: NatsClusterNode[] = [];
  try {
    // Started together: a node waits for its routes before JetStream has a meta leader, not before it listens.
    await Promise.all(
      ports.map(async (port, i) => {
        const name = `${clusterName}-n${i + 1}`;
        const nodeDir = join(dir, name);
        const storeDir = join(nodeDir, 'jetstream');
        await mkdir(storeDir, { recursive: true });
        const configPath = join(nodeDir, 'nats-server.conf');
        await writeFile(
          configPath,
          [
            `server_name: "${name}"`,
            ...(options.logToFiles ? [`log_file: "${join(nodeDir, 'nats-server.log')}"`] : []),
            `listen: "127.0.0.1:${port}"`,
            `jetstream { store_dir: "${storeDir}" }`,
            `cluster { name: "${clusterName}", listen: "127.0.0.1:${clusterPorts[i]}", routes: [${routes}] }`,
            '',
          ].join('\n'),
        );
        // A node's own dispose() deletes its folder: a node that lost its disk.
        const server = await startManagedServer('nats-server', ['-c', configPath], port, nodeDir);
        nodes[i] = Object.assign(server, { name, url: `nats://127.0.0.1:${port}`, port, clusterPort: clusterPorts[i]!, storeDir });
      }),
    );
  } catch (err) {
    await Promise.all(nodes.filter(Boolean).map((node) => node.kill()));
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const urls = nodes.map((node) => node.url);
  const cluster: NatsClusterHandle = {
    nodes,
    urls,
    url: urls.join(','),
    waitForJetStream: (timeoutMs = 30_000) => waitForJetStream(urls, timeoutMs),
    waitForReplicasCurrent: (timeoutMs = 60_000) => waitForReplicasCurrent(urls, timeoutMs),
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
    async dispose() {
      await Promise.all(nodes.map((node) => node.kill()));
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.waitForJetStream();
  } catch (err) {
    await cluster.dispose();
    throw err;
  }
  return cluster;
}

async function withConnection<T>(urls: readonly string[], use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: [...urls], timeout: 2_000, reconnect: false });
  try {
    return await use(nc);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function waitForJetStream(urls: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await withConnection(urls, async (nc) => {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        await jsm.getAccountInfo();
      });
      return;
    } catch (err) {
      lastError = err;
      await sleep(200);
    }
  }
  throw new Error(`the NATS cluster at ${urls.join(',')} has no JetStream meta leader after ${timeoutMs} ms: ${(lastError as Error)?.message}`);
}

async function waitForReplicasCurrent(urls: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lagging = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      lagging = await withConnection(urls, async (nc) => {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        for await (const stream of jsm.streams.list()) {
          const { cluster } = stream;
          if (cluster === undefined) continue;
          if (cluster.leader === undefined || cluster.leader === '') return `stream ${stream.config.name} has no leader`;
          const behind = (cluster.replicas ?? []).find((replica) => !replica.current || replica.offline === true);
          if (behind !== undefined) return `stream ${stream.config.name}: replica ${behind.name} is ${behind.offline ? 'offline' : `${behind.lag ?? '?'} behind`}`;
        }
        return '';
      });
      if (lagging === '') return;
    } catch (err) {
      lagging = (err as Error).message;
    }
    await sleep(250);
  }
  throw new Error(`the NATS cluster at ${urls.join(',')} did not catch up within ${timeoutMs} ms: ${lagging}`);
}
