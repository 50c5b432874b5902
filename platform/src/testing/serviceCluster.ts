// The production topology as local processes, for chaos tests and `npm run cluster`: a three-node
// NATS cluster, a Mosquitto that keeps sessions on disk, an SMTP server that keeps every mail, and
// each service as separate processes (services/<name>/dist/main.js, so build first), several copies
// of each with PLANTS narrowing some of them. Copies can be killed and started again; their output
// goes to one log file per copy, and their peak memory is sampled.
// One file over 300 lines on purpose: the topology of the cluster tests, started and stopped as one.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMosquitto, type MosquittoHandle } from './mosquitto.js';
import { startNatsCluster, type NatsClusterHandle } from './natsCluster.js';
import { freePort } from './processHarness.js';
import { startSmtpCapture, type SmtpCapture } from './smtpCapture.js';

export const SERVICE_NAMES = ['ingest', 'workflow', 'maintenance', 'resources', 'approvals', 'projections'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The repository's root, from platform/src/testing or platform/dist/testing alike. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ServiceCopy {
  /** `ingest`, ..., or a name of the caller's for an extra process (e.g. `console`). */
  readonly service: string;
  /** From 1. */
  readonly index: number;
  /** e.g. `ingest-2`. */
  readonly name: string;
  readonly httpPort: number;
  readonly httpUrl: string;
  /** PLANTS of this copy; undefined: every plant. */
  readonly plants: readonly string[] | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly logFile: string;
  running(): boolean;
  pid(): number | undefined;
  /** Starts the process and resolves once it printed `MES is running`; rejects with its last output otherwise. */
  start(): Promise<void>;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, then waits for the exit. */
  kill(): Promise<void>;
  /** How often it was started. */
  readonly starts: number;
  /** Exits nobody asked for after a start (a crash), with the end of the log at that moment. */
  readonly crashes: { at: string; how: string; lastOutput: string }[];
}

export interface ServiceClusterOptions {
  /** The plant configuration (MES_CONFIG), as YAML. */
  plantsYaml: string;
  /** Copies per service; 2 unless told. */
  copies?: number | Partial<Record<ServiceName, number>>;
  /** PLANTS of one copy (undefined: every plant). Unless told, every copy serves every plant. */
  plantsFor?(service: ServiceName, index: number): readonly string[] | undefined;
  /** NATS_REPLICAS; 3 unless told. */
  natsReplicas?: number;
  /** Extra environment for every copy (e.g. LOG_LEVEL). */
  env?: NodeJS.ProcessEnv;
  /** Where stores, logs and the SQLite file go; a temporary folder (deleted on dispose) unless told. */
  dir?: string;
  /** Fixed ports for people (`npm run cluster`); free ones unless told. HTTP ports count up from `http`. */
  ports?: { nats?: readonly number[]; mqtt?: number; http?: number };
}

export interface ServiceCluster {
  readonly nats: NatsClusterHandle;
  readonly mosquitto: MosquittoHandle;
  readonly smtp: SmtpCapture;
  readonly dir: string;
  /** sqlite file every projections copy writes (SQL_URL). */
  readonly sqlitePath: string;
  /** The environment every copy shares (no HTTP_PORT, PLANTS or client id), e.g. for the `mes` CLI. */
  readonly env: NodeJS.ProcessEnv;
  readonly copies: readonly ServiceCopy[];
  copiesOf(service: string): ServiceCopy[];
  /** Starts every copy not running (a few at a time: this machine has few cores). */
  startAll(): Promise<void>;
  /** Adds a process of the caller's (`node entry`) with the shared environment and its own HTTP port (`httpPort`, or the next one). */
  addProcess(name: string, entry: string, env?: NodeJS.ProcessEnv, httpPort?: number): Promise<ServiceCopy>;
  /** Peak resident memory seen per process (copies, NATS nodes, Mosquitto), in MiB. */
  peakMemory(): Record<string, number>;
  /** Stops the copies (SIGTERM), then Mosquitto and NATS; keeps `dir`. */
  stop(): Promise<void>;
  /** Kills everything and deletes `dir` when it was a temporary one. */
  dispose(): Promise<void>;
}

export const CLUSTER_API_TOKEN = 'cluster-api-token-0123456789abcdef';
export const CLUSTER_APPROVAL_SECRET = 'cluster-approval-secret-0123456789abcdef0123456789';

export async function startServiceCluster(options: ServiceClusterOptions): Promise<ServiceCluster> {
  for (const service of SERVICE_NAMES) {
    const entry = serviceEntry(service);
    if (!existsSync(entry)) throw new Error(`${entry} does not exist: build the services first (npx tsc -b, or npm run build)`);
  }
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'mes-cluster-')));
  await mkdir(join(dir, 'logs'), { recursive: true });
  const configPath = join(dir, 'plants.yaml');
  await writeFile(configPath, options.plantsYaml);
  const sqlitePath = join(dir, 'mes.sqlite');

  const [nats, mosquitto, smtp] = await Promise.all([
    startNatsCluster({ dir: join(dir, 'nats'), logToFiles: true, ...(options.ports?.nats ? { ports: options.ports.nats } : {}) }),
    startMosquitto({ persistence: true, maxQueuedMessages: 10_000, ...(options.ports?.mqtt ? { port: options.ports.mqtt } : {}) }),
    startSmtpCapture(),
  ]);
  const env: NodeJS.ProcessEnv = {
    NATS_URL: nats.url,
    NATS_REPLICAS: String(options.natsReplicas ?? 3),
    MQTT_URL: mosquitto.url,
    SMTP_URL: smtp.url,
    MES_CONFIG: configPath,
    SQL_URL: `sqlite:${sqlitePath}`,
    HTTP_HOST: '127.0.0.1',
    API_TOKEN: CLUSTER_API_TOKEN,
    APPROVAL_SECRET: CLUSTER_APPROVAL_SECRET,
    LOG_LEVEL: 'info',
    ...options.env,
  };

  let nextHttpPort = options.ports?.http;
  const httpPort = async () => (nextHttpPort === undefined ? freePort() : nextHttpPort++);
  const copies: ServiceCopy[] = [];
  const peaks: Record<string, number> = {};
  const makeCopy = async (service: string, index: number, entry: string, extraEnv: NodeJS.ProcessEnv, plants: readonly string[] | undefined, fixedPort?: number) => {
    const port = fixedPort ?? (await httpPort());
    const name = `${service}-${index}`;
    const copy = serviceCopy({
      service,
      index,
      name,
      entry,
      httpPort: port,
      plants,
      logFile: join(dir, 'logs', `${name}.log`),
      env: {
        ...env,
        HTTP_PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        DATA_DIR: join(dir, 'data', name),
        ...(plants === undefined ? {} : { PLANTS: plants.join(',') }),
        ...extraEnv,
      },
    });
    copies.push(copy);
    return copy;
  };
  for (const service of SERVICE_NAMES) {
    const count = typeof options.copies === 'number' ? options.copies : (options.copies?.[service] ?? 2);
    for (let index = 1; index <= count; index++) {
      // A stable MQTT client id per ingest copy: its persistent session (and its share of the
      // readings queued while it was down) is waiting for it when it comes back.
      const extra = service === 'ingest' ? { MQTT_CLIENT_ID: `mes-ingest-${index}` } : {};
      await makeCopy(service, index, serviceEntry(service), extra, options.plantsFor?.(service, index));
    }
  }

  const sampler = setInterval(() => {
    const pids: [string, number | undefined][] = [
      ...copies.map((copy) => [copy.name, copy.pid()] as [string, number | undefined]),
      ...nats.nodes.map((node) => [node.name, node.pid()] as [string, number | undefined]),
      ['mosquitto', mosquitto.pid()],
    ];
    for (const [name, pid] of pids) {
      if (pid === undefined) continue;
      void peakRssMiB(pid).then((mib) => {
        if (mib !== undefined && mib > (peaks[name] ?? 0)) peaks[name] = mib;
      });
    }
  }, 1_000);
  sampler.unref();

  const stopCopies = async (how: 'stop' | 'kill') => {
    await Promise.all(copies.map((copy) => (how === 'stop' ? copy.stop() : copy.kill())));
  };
  const cluster: ServiceCluster = {
    nats,
    mosquitto,
    smtp,
    dir,
    sqlitePath,
    env,
    copies,
    copiesOf: (service) => copies.filter((copy) => copy.service === service),
    async startAll() {
      const waiting = copies.filter((copy) => !copy.running());
      const starting = new Set<Promise<void>>();
      for (const copy of waiting) {
        const started: Promise<void> = copy.start().finally(() => starting.delete(started));
        starting.add(started);
        if (starting.size >= 4) await Promise.race(starting);
      }
      await Promise.all(starting);
    },
    async addProcess(name, entry, extraEnv = {}, port) {
      return makeCopy(name, 1, entry, extraEnv, undefined, port);
    },
    peakMemory: () => ({ ...peaks }),
    async stop() {
      clearInterval(sampler);
      await stopCopies('stop');
      await mosquitto.stop();
      await smtp.close();
      await nats.stop();
    },
    async dispose() {
      clearInterval(sampler);
      await stopCopies('kill');
      await Promise.all([mosquitto.dispose(), nats.dispose(), smtp.close()]);
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

export function serviceEntry(service: ServiceName): string {
  return join(REPOSITORY_ROOT, 'services', service, 'dist', 'main.js');
}

/** VmHWM of a process (its peak resident set), in MiB; undefined once it is gone. */
async function peakRssMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

interface CopySpec {
  service: string;
  index: number;
  name: string;
  entry: string;
  httpPort: number;
  plants: readonly string[] | undefined;
  logFile: string;
  env: NodeJS.ProcessEnv;
}

const START_TIMEOUT_MS = 60_000;

function serviceCopy(spec: CopySpec): ServiceCopy {
  let child: ChildProcess | undefined;
  let log: WriteStream | undefined;
  let tail = '';
  let starts = 0;
  let stopping = false;
  const crashes: ServiceCopy['crashes'] = [];
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const end = async (signal: NodeJS.Signals) => {
    if (!alive()) return;
    stopping = true;
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    child!.kill(signal);
    const timer = setTimeout(() => child?.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const copy: ServiceCopy = {
    service: spec.service,
    index: spec.index,
    name: spec.name,
    httpPort: spec.httpPort,
    httpUrl: `http://127.0.0.1:${spec.httpPort}`,
    plants: spec.plants,
    env: spec.env,
    logFile: spec.logFile,
    running: alive,
    pid: () => (alive() ? child!.pid : undefined),
    get starts() {
      return starts;
    },
    crashes,
    async start() {
      if (alive()) return;
      starts++;
      stopping = false;
      tail = '';
      log ??= createWriteStream(spec.logFile, { flags: 'a' });
      log.write(`--- start ${starts} at ${new Date().toISOString()}\n`);
      const process_ = spawn(process.execPath, [spec.entry], { env: { PATH: process.env.PATH, ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      child = process_;
      await new Promise<void>((resolve, reject) => {
        let started = false;
        const timer = setTimeout(() => {
          process_.kill('SIGKILL');
          reject(new Error(`${spec.name} did not start within ${START_TIMEOUT_MS} ms; its last output:\n${tail}`));
        }, START_TIMEOUT_MS);
        const onData = (chunk: Buffer) => {
          log?.write(chunk);
          tail = (tail + chunk.toString()).slice(-4_000);
          if (!started && tail.includes('MES is running')) {
            started = true;
            clearTimeout(timer);
            resolve();
          }
        };
        process_.stdout!.on('data', onData);
        process_.stderr!.on('data', onData);
        process_.once('exit', (code, signal) => {
          const how = signal ?? `code ${String(code)}`;
          log?.write(`--- exited with ${how} at ${new Date().toISOString()}\n`);
          if (started && !stopping) crashes.push({ at: new Date().toISOString(), how, lastOutput: tail });
          if (!started) {
            clearTimeout(timer);
            reject(new Error(`${spec.name} exited with ${how} before it started; its last output:\n${tail}`));
          }
        });
      });
    },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
  return copy;
}
