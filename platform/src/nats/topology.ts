// The JetStream streams, KV buckets and durable consumers the services need, provisioned
// idempotently: create what is missing, update what drifted, leave matching config alone.
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
import { nanos, type NatsConnection } from '@nats-io/transport-node';

export type StreamSpec = Pick<StreamConfig, 'name' | 'subjects'> & Partial<StreamConfig>;

export interface TopologyOptions {
  /** Window in which JetStream drops a repeated telemetry `Nats-Msg-Id` (CONTRACT §6 DEDUPE_WINDOW). */
  dedupeWindowMs: number;
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
  return [
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
}

export const TOPOLOGY_BUCKETS = [
  { bucket: MACHINE_CONDITIONS_BUCKET, history: 1 },
  { bucket: OPEN_WORKFLOWS_BUCKET, history: 1 },
  { bucket: ORDER_INDEX_BUCKET, history: 1 },
] as const;

export interface ProvisionReport {
  created: string[];
  updated: string[];
  unchanged: string[];
}

/** Creates or updates one stream so its config includes `spec`. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec, report?: ProvisionReport): Promise<void> {
  try {
    const info = await jsm.streams.info(spec.name);
    const drifted = Object.entries(spec).some(([key, value]) => JSON.stringify(info.config[key as keyof StreamConfig]) !== JSON.stringify(value));
    if (!drifted) {
      report?.unchanged.push(`stream ${spec.name}`);
      return;
    }
    await jsm.streams.update(spec.name, { ...info.config, ...spec });
    report?.updated.push(`stream ${spec.name}`);
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
    await jsm.streams.add(spec);
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
    const info = await jsm.consumers.info(stream, config.durable_name);
    const drifted = Object.entries(singular).some(([key, value]) => JSON.stringify(info.config[key as keyof ConsumerConfig]) !== JSON.stringify(value));
    if (!drifted) {
      report?.unchanged.push(`consumer ${stream}/${config.durable_name}`);
      return info;
    }
    const updated = await jsm.consumers.update(stream, config.durable_name, singular);
    report?.updated.push(`consumer ${stream}/${config.durable_name}`);
    return updated;
  } catch (err) {
    if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.ConsumerNotFound) throw err;
    const created = await jsm.consumers.add(stream, singular);
    report?.created.push(`consumer ${stream}/${config.durable_name}`);
    return created;
  }
}

/** Provisions every stream and bucket of the topology; safe to run from every copy of every service. */
export async function provisionTopology(nc: NatsConnection, jsm: JetStreamManager, options: TopologyOptions): Promise<ProvisionReport> {
  const report: ProvisionReport = { created: [], updated: [], unchanged: [] };
  for (const spec of topologyStreams(options)) await ensureStream(jsm, spec, report);
  const kvm = new Kvm(nc);
  for (const bucket of TOPOLOGY_BUCKETS) {
    const existed = await jsm.streams.info(`KV_${bucket.bucket}`).then(() => true, () => false);
    // Kvm.create binds to the bucket when it already exists with these settings.
    await kvm.create(bucket.bucket, { history: bucket.history });
    (existed ? report.unchanged : report.created).push(`kv ${bucket.bucket}`);
  }
  return report;
}
