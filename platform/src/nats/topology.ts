// The JetStream streams, KV buckets and durable consumers the services need, provisioned
// idempotently: create what is missing, update what drifted, leave matching config alone.
// Every stream and bucket gets NATS_REPLICAS replicas; durable consumers leave `num_replicas`
// at 0, which makes them follow their stream's (measured on 2.9.10: a stream scaled from 1 to 3
// replicas takes its consumers along).
import {
  COMMANDS_STREAM,
  COMMANDS_SUBJECT_PREFIX,
  DEAD_LETTERS_STREAM,
  DEAD_LETTERS_SUBJECT_PREFIX,
  EVENTS_STREAM,
  EVENTS_SUBJECT_PREFIX,
  MACHINE_CONDITIONS_BUCKET,
  OPEN_WORKFLOWS_BUCKET,
  ORDER_INDEX_BUCKET,
  TELEMETRY_STREAM,
  TELEMETRY_SUBJECT_PREFIX,
  TIMERS_STREAM,
  TIMERS_SUBJECT_PREFIX,
} from '@mes/contracts';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { nanos, NoRespondersError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { RELAY_CHECKPOINTS_BUCKET } from '../eventStore/eventRelay.js';

export type StreamSpec = Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>;

export interface TopologyOptions {
  /** Window in which JetStream drops a repeated telemetry `Nats-Msg-Id` (CONTRACT §6 DEDUPE_WINDOW). */
  dedupeWindowMs: number;
  /** Replicas of every stream and bucket (CONTRACT §6 NATS_REPLICAS); 1 unless told. */
  replicas?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The event store: append-only (no delete, no purge), kept forever, every subject's history kept. */
export function eventsStreamSpec(name = EVENTS_STREAM, subjectPrefix = EVENTS_SUBJECT_PREFIX): StreamSpec {
  return {
    name,
    subjects: [`${subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    max_msgs_per_subject: -1,
    duplicate_window: nanos(2 * 60 * 1000),
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
  };
}

export function topologyStreams(options: TopologyOptions): StreamSpec[] {
  const num_replicas = options.replicas ?? 1;
  const streams: StreamSpec[] = [
    eventsStreamSpec(),
    {
      // Every accepted reading; MESData is rebuilt from it, so it is kept like the event log.
      name: TELEMETRY_STREAM,
      subjects: [`${TELEMETRY_SUBJECT_PREFIX}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      duplicate_window: nanos(options.dedupeWindowMs),
      deny_delete: true,
    },
    {
      name: COMMANDS_STREAM,
      subjects: [`${COMMANDS_SUBJECT_PREFIX}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(30 * DAY_MS),
      duplicate_window: nanos(10 * 60 * 1000),
    },
    {
      // One message per scheduled timeout (`Nats-Msg-Id` = timeout id); the workflow's consumer holds
      // each back until it is due, so a timeout survives any restart.
      name: TIMERS_STREAM,
      subjects: [`${TIMERS_SUBJECT_PREFIX}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(365 * DAY_MS),
      duplicate_window: nanos(10 * 60 * 1000),
    },
    {
      name: DEAD_LETTERS_STREAM,
      subjects: [`${DEAD_LETTERS_SUBJECT_PREFIX}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      max_age: nanos(90 * DAY_MS),
    },
  ];
  return streams.map((spec) => ({ ...spec, num_replicas }));
}

/**
 * KV bucket of the approvers' PINs (CONTRACT §4, `signature: link+pin`): per approver a slow salted
 * hash of the PIN, the pending enrolment link and the count of wrong PINs and lock. Kept outside
 * the event log on purpose: a PIN hash must never be in an append-only, widely readable record.
 */
export const APPROVER_PINS_BUCKET = 'mes_approver_pins';

/**
 * The buckets every deployment has. The relay's checkpoints are used only with EventStoreDB, but
 * provisioning the (then empty) bucket here gives it NATS_REPLICAS like the rest.
 */
export const TOPOLOGY_BUCKETS = [
  { bucket: MACHINE_CONDITIONS_BUCKET, history: 1 },
  { bucket: OPEN_WORKFLOWS_BUCKET, history: 1 },
  { bucket: ORDER_INDEX_BUCKET, history: 1 },
  { bucket: RELAY_CHECKPOINTS_BUCKET, history: 1 },
  { bucket: APPROVER_PINS_BUCKET, history: 1 },
] as const;

export interface ProvisionReport {
  created: string[];
  /** What changed, e.g. `stream MES_EVENTS: num_replicas 1 -> 3`. */
  updated: string[];
  unchanged: string[];
}

/** JetStream API codes of a replica count the cluster cannot place (seen on nats-server 2.9.10). */
const NO_SUITABLE_PEERS = 10005;
const REPLICAS_NOT_CLUSTERED = 10074;
const INSUFFICIENT_RESOURCES = 10023;
const TEMPORARILY_UNAVAILABLE = 10008;

export class ReplicasUnavailableError extends Error {
  readonly code = 'NATS_REPLICAS_UNAVAILABLE';
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'ReplicasUnavailableError';
  }
}

/**
 * Turns the server's refusal of a replica count into a message naming NATS_REPLICAS and what the
 * cluster has; any other error is returned as it is.
 */
export function explainReplicaRefusal(err: unknown, what: string, replicas: number, nc: NatsConnection | undefined): unknown {
  if (!(err instanceof JetStreamApiError)) return err;
  if (err.code === REPLICAS_NOT_CLUSTERED) return notClustered(what, replicas, nc, err);
  if (err.code === NO_SUITABLE_PEERS || err.code === INSUFFICIENT_RESOURCES) {
    const info = nc?.info;
    // The connected server lists the client URLs of every server of its cluster it knows of.
    const known = info?.connect_urls?.length;
    const size = known === undefined ? '' : ` (${known} server${known === 1 ? '' : 's'} known to ${info?.server_name ?? 'the server'})`;
    return new ReplicasUnavailableError(
      `NATS_REPLICAS=${replicas} is more than the NATS cluster ${info?.cluster ?? ''}${size} can hold now: ${what} needs ${replicas} servers with JetStream up (the server said: ${err.message}). Start the missing servers, or lower NATS_REPLICAS to the cluster size.`,
      err,
    );
  }
  return err;
}

function notClustered(what: string, replicas: number, nc: NatsConnection | undefined, cause?: unknown): ReplicasUnavailableError {
  return new ReplicasUnavailableError(
    `NATS_REPLICAS=${replicas} needs a NATS cluster of at least ${replicas} JetStream servers, but ${nc?.info?.server_name ?? 'the NATS server'} runs alone (not clustered); ${what} was not provisioned. Set NATS_REPLICAS=1, or list the servers of a cluster in NATS_URL.`,
    cause,
  );
}

/**
 * Retries a JetStream API call that failed because the cluster is electing a leader (a node just
 * went down): it then answers with a timeout, no responders or "temporarily unavailable" for a
 * few seconds. Measured on a three-node 2.9.10 cluster: 4-10 s after a node was killed.
 */
async function duringElections<T>(call: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      const transient = err instanceof TimeoutError || err instanceof NoRespondersError || (err instanceof JetStreamApiError && err.code === TEMPORARILY_UNAVAILABLE);
      if (!transient || Date.now() > deadline) throw err;
      await sleep(500);
    }
  }
}

function drift(current: object, wanted: object): string[] {
  return Object.entries(wanted)
    .filter(([key, value]) => JSON.stringify((current as Record<string, unknown>)[key]) !== JSON.stringify(value))
    .map(([key, value]) => `${key} ${JSON.stringify((current as Record<string, unknown>)[key]) ?? 'unset'} -> ${JSON.stringify(value)}`);
}

/**
 * Creates or updates one stream so its config includes `spec`. A changed `num_replicas` is
 * applied in place (JetStream moves the data); the report says so.
 */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, report?: ProvisionReport, nc?: NatsConnection): Promise<void> {
  const replicas = spec.num_replicas ?? 1;
  try {
    const info = await duringElections(() => jsm.streams.info(spec.name));
    const changes = drift(info.config, spec);
    if (changes.length === 0) {
      report?.unchanged.push(`stream ${spec.name}`);
      return;
    }
    await duringElections(() => jsm.streams.update(spec.name, { ...info.config, ...spec })).catch((err: unknown) => {
      throw explainReplicaRefusal(err, `stream ${spec.name}`, replicas, nc);
    });
    report?.updated.push(`stream ${spec.name}: ${changes.join(', ')}`);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
    await duringElections(() => jsm.streams.add(spec)).catch((addErr: unknown) => {
      throw explainReplicaRefusal(addErr, `stream ${spec.name}`, replicas, nc);
    });
    report?.created.push(`stream ${spec.name}`);
  }
}

/**
 * Creates or updates a durable consumer. `filter_subject` is singular on purpose: nats-server 2.9
 * ignores `filter_subjects` (ARCHITECTURE.md, known traps).
 */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string; filter_subject?: string },
  report?: ProvisionReport,
): Promise<ConsumerInfo> {
  const { filter_subjects: _ignored, ...singular } = config as Partial<ConsumerConfig>;
  try {
    const info = await duringElections(() => jsm.consumers.info(stream, config.durable_name));
    const changes = drift(info.config, singular);
    if (changes.length === 0) {
      report?.unchanged.push(`consumer ${stream}/${config.durable_name}`);
      return info;
    }
    const updated = await duringElections(() => jsm.consumers.update(stream, config.durable_name, singular));
    report?.updated.push(`consumer ${stream}/${config.durable_name}: ${changes.join(', ')}`);
    return updated;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.ConsumerNotFound) throw err;
    // Creating a durable that exists with this config is a no-op, so a retry after a lost answer is safe.
    const created = await duringElections(() => jsm.consumers.add(stream, singular));
    report?.created.push(`consumer ${stream}/${config.durable_name}`);
    return created;
  }
}

/**
 * Provisions every stream and bucket of the topology with `options.replicas`; safe to run from
 * every copy of every service. Refuses a replica count the cluster cannot hold with a
 * ReplicasUnavailableError naming NATS_REPLICAS.
 */
export async function provisionTopology(nc: NatsConnection, jsm: JetStreamManager, options: TopologyOptions): Promise<ProvisionReport> {
  const replicas = options.replicas ?? 1;
  if (replicas > 1 && nc.info !== undefined && nc.info.cluster === undefined) {
    throw notClustered('the JetStream topology', replicas, nc);
  }
  const report: ProvisionReport = { created: [], updated: [], unchanged: [] };
  for (const spec of topologyStreams(options)) await ensureStream(jsm, spec, report, nc);
  const kvm = new Kvm(nc);
  for (const bucket of TOPOLOGY_BUCKETS) {
    const name = `KV_${bucket.bucket}`;
    const what = `kv ${bucket.bucket}`;
    const info = await duringElections(() => jsm.streams.info(name)).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined;
      throw err;
    });
    if (info === undefined) {
      await duringElections(() => kvm.create(bucket.bucket, { history: bucket.history, replicas })).catch((err: unknown) => {
        throw explainReplicaRefusal(err, what, replicas, nc);
      });
      report.created.push(what);
    } else if (info.config.num_replicas !== replicas) {
      // Kvm.create binds to an existing bucket as it is, so a new replica count is applied here.
      await duringElections(() => jsm.streams.update(name, { ...info.config, num_replicas: replicas })).catch((err: unknown) => {
        throw explainReplicaRefusal(err, what, replicas, nc);
      });
      report.updated.push(`${what}: num_replicas ${info.config.num_replicas} -> ${replicas}`);
    } else {
      report.unchanged.push(what);
    }
  }
  return report;
}
