// Ingest: MQTT telemetry -> validated readings in JetStream (deduplicated by messageId), rejected
// messages -> dead letters, condition changes -> MachineStatusChanged. Work in flight is bounded
// by a window: while it is full, MQTT reading pauses (and so does the broker, for this client).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { deadLetterSubject, TELEMETRY_STREAM, telemetrySubject, UNKNOWN_PLANT, validateTelemetry } from '@mes/contracts';
import { JetStreamAckPublisher, PublisherStoppedError, withoutCredentials, type MesMetrics, type RunningService, type ServiceDeps } from '@mes/platform';
import { jetstreamManager } from '@nats-io/jetstream';
import { MachineConditionKv } from '../adapters/machineConditionKv.js';
import { MqttTelemetrySource, type TelemetryMessage } from '../adapters/mqttTelemetrySource.js';
import { registerDeadLetterRoutes } from '../adapters/deadLetterRoutes.js';
import { deadLetterRecord } from '../domain/deadLetter.js';
import { DeadLetterWarnings } from '../domain/deadLetterWarnings.js';
import { productionEdgesByPlant } from '../domain/machineCondition.js';
import { plantRejection, telemetryTopicFilters, type PlantScope } from '../domain/plantScope.js';
import { readingEnvelope, readingMessageId, type ReadingEnvelope } from '../domain/readingEvents.js';
import { ConditionTracker } from './conditionTracker.js';

export interface IngestOptions {
  /** Most messages in progress at once (received, not yet stored and checked for a condition change). Default 2000. */
  window?: number;
  /** MQTT client id: keep it stable across restarts and unique per copy. Default MQTT_CLIENT_ID, else `mes-ingest-{hostname}`. */
  clientId?: string;
  /** Shared-subscription group; null subscribes plainly. Default `mes-ingest`. */
  sharedGroup?: string | null;
  /** How long the broker keeps this copy's session (and queues its share) while it is away. Default 3600 s. */
  sessionExpirySeconds?: number;
  /** Wait for a PubAck this long before publishing again. Default 5000 ms. */
  ackTimeoutMs?: number;
  /** Machines whose last condition is kept in memory; the one seen longest ago is forgotten past it. Default 10,000. */
  maxTrackedMachines?: number;
  /** On stop, wait this long for messages in progress. Default 10000 ms. */
  stopTimeoutMs?: number;
  /** Wait this long for the first MQTT connection before starting anyway (it keeps retrying). Default 10000 ms. */
  connectTimeoutMs?: number;
  /** Rejections of a plant within this interval are summed up in one warning. Default 60000 ms. */
  deadLetterWarningIntervalMs?: number;
}

export interface IngestMetrics {
  /** MQTT messages taken in. */
  received: number;
  /** Readings stored in MES_TELEMETRY. */
  accepted: number;
  /** Readings JetStream dropped as repeats of a messageId within DEDUPE_WINDOW. */
  duplicates: number;
  /** Messages rejected (each one recorded in MES_DEAD_LETTERS). */
  deadLetters: number;
  /** MachineStatusChanged events appended. */
  statusChanges: number;
  /** Compare-and-set conflicts on machine conditions (another copy was first). */
  conditionConflicts: number;
  /** Sends to JetStream that failed or timed out and were repeated. */
  publishRetries: number;
  /** Messages in progress. */
  inFlight: number;
  /** Machines whose last condition is held in memory (bounded by maxTrackedMachines). */
  trackedMachines: number;
  /** True while MQTT reading is paused because the window is full. */
  paused: boolean;
  /** Whether the MQTT subscription is shared (undefined before the first subscription). */
  sharedSubscription: boolean | undefined;
}

export interface IngestService extends RunningService {
  metrics(): IngestMetrics;
}

const DEFAULT_WINDOW = 2000;
/** The largest Receive Maximum MQTT 5 allows. */
const MAX_RECEIVE_MAXIMUM = 65_535;
const DEFAULT_SHARED_GROUP = 'mes-ingest';

/** Starts the ingest service on shared dependencies; `npm start` runs every service in one process this way. */
export async function start(deps: ServiceDeps): Promise<IngestService> {
  registerDeadLetterRoutes(deps.http, deps.nc);
  return startIngest(deps, deps.config.mqttClientId === undefined ? {} : { clientId: deps.config.mqttClientId });
}

/** What ingest uses of the shared dependencies. */
export type IngestDeps = Pick<ServiceDeps, 'config' | 'plants' | 'logger' | 'nc' | 'eventStore' | 'health'> & { metrics?: MesMetrics };

export async function startIngest(deps: IngestDeps, options: IngestOptions = {}): Promise<IngestService> {
  const { config, plants, logger, nc, eventStore } = deps;
  const window = options.window ?? DEFAULT_WINDOW;
  if (!(Number.isInteger(window) && window >= 1)) throw new Error(`ingest window must be a whole number >= 1 (got ${String(window)})`);
  const served = config.plants;
  const scope: PlantScope = {
    configured: new Set(Object.keys(plants.plants)),
    served: served === undefined ? undefined : new Set(served),
    machines: new Map(Object.entries(plants.plants).flatMap(([plantId, plant]) => (plant.machines === undefined ? [] : [[plantId, new Set(plant.machines)] as const]))),
  };
  // Buffer.from takes small buffers from Node's shared pool; TextEncoder allocates a backing store
  // per message (measured: 0.5-0.7 µs against 1.3-1.5 µs for a reading's envelope, GC included).
  const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

  const publisher = new JetStreamAckPublisher(nc, logger, { ackTimeoutMs: options.ackTimeoutMs });
  const kv = await MachineConditionKv.open(nc, publisher);
  const tracker = new ConditionTracker({
    kv,
    eventLog: eventStore,
    edgesByPlant: productionEdgesByPlant(plants),
    logger,
    ...(options.maxTrackedMachines === undefined ? {} : { maxMachines: options.maxTrackedMachines }),
  });
  const watch = await kv.watch((key, revision) => tracker.observe(key, revision), logger);

  const counts = { received: 0, accepted: 0, duplicates: 0, deadLetters: 0 };
  const warningIntervalMs = options.deadLetterWarningIntervalMs ?? 60_000;
  const deadLetterWarnings = new DeadLetterWarnings(warningIntervalMs);
  const warnDue = () => {
    for (const warning of deadLetterWarnings.due(Date.now())) logger.warn({ plantId: warning.plantId, deadLetters: warning.count, lastReason: warning.lastReason }, warning.message);
  };
  const warningTimer = setInterval(warnDue, Math.min(warningIntervalMs, 10_000));
  // How many readings this copy rejected, for GET /health (which stays 200: ingest works, senders
  // are wrong). Counts only: /health answers without a token, the reasons are under /api.
  const rejected = { count: 0, lastAt: '' };
  deps.health.notice('deadLetters', () => (rejected.count === 0 ? undefined : { count: rejected.count, lastAt: rejected.lastAt, see: '/api/dead-letters' }));
  warningTimer.unref();
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const source: MqttTelemetrySource = new MqttTelemetrySource({
    url: config.mqttUrl,
    clientId: options.clientId ?? `mes-ingest-${hostname()}`,
    topicFilters: telemetryTopicFilters(served),
    sharedGroup: options.sharedGroup === null ? undefined : (options.sharedGroup ?? DEFAULT_SHARED_GROUP),
    sessionExpirySeconds: options.sessionExpirySeconds ?? 3600,
    logger,
    hasRoom: () => inFlight < window,
    // The broker sends no more unacknowledged messages than the window holds (it queues the rest).
    receiveMaximum: Math.min(window, MAX_RECEIVE_MAXIMUM),
    onMessage: (message, settle) => take(message, settle),
  });

  /** Settles a message once (`stored`: PUBACK it; else leave it with the broker) and frees its place in the window. */
  function finisher(settle: (stored: boolean) => void): (stored: boolean) => void {
    let finished = false;
    return (stored) => {
      if (finished) return;
      finished = true;
      settle(stored);
      inFlight--;
      if (inFlight === 0) drained?.();
      if (inFlight < window) source.resume();
    };
  }

  function onPublishFailure(err: unknown, what: string): void {
    // Only a stop abandons a publish; the message was never PUBACKed, so the broker still has it.
    if (!(err instanceof PublisherStoppedError)) logger.error({ err }, `${what} failed`);
  }

  /** The reading stored at `seq` of the telemetry stream, or undefined when it is not a reading. */
  async function storedReading(seq: number): Promise<ReadingEnvelope | undefined> {
    const message = await (await jetstreamManager(nc)).streams.getMessage(TELEMETRY_STREAM, { seq });
    const body = message?.json<ReadingEnvelope>();
    return body?.type === 'MachineReadingRecorded' ? body : undefined;
  }

  function reject(message: TelemetryMessage, reason: string, finish: (stored: boolean) => void): void {
    counts.deadLetters++;
    const record = deadLetterRecord({ topic: message.topic, payload: message.payload, reason, receivedAt: message.receivedAt });
    // Topics can name any plant: those not configured share one label and one warning, so a
    // sender spraying made-up plant ids cannot grow the metric's label set or flood the log.
    const plant = record.plantId !== undefined && scope.configured.has(record.plantId) ? record.plantId : UNKNOWN_PLANT;
    deps.metrics?.readingsDeadLettered.inc({ plant });
    rejected.count++;
    rejected.lastAt = message.receivedAt.toISOString();
    const warning = deadLetterWarnings.record(plant, reason, Date.now());
    if (warning !== undefined) logger.warn({ plantId: plant, topic: message.topic, reason }, warning.message);
    publisher.publish(deadLetterSubject(record.plantId), utf8(JSON.stringify(record)), { msgId: randomUUID() }).then(
      () => finish(true),
      (err: unknown) => {
        onPublishFailure(err, 'recording a dead letter');
        finish(false);
      },
    );
  }

  function take(message: TelemetryMessage, settle: (stored: boolean) => void): void {
    counts.received++;
    inFlight++;
    const finish = finisher(settle);
    try {
      const result = validateTelemetry(message.topic, message.payload, message.receivedAt);
      if (!result.ok) {
        reject(message, result.reason, finish);
        return;
      }
      const { reading } = result;
      const outOfScope = plantRejection(scope, reading.plantId, reading.machineId);
      if (outOfScope !== undefined) {
        reject(message, outOfScope, finish);
        return;
      }
      const envelope = readingEnvelope(reading, randomUUID());
      // The device hears its reading was received (PUBACK) only once it is stored AND the condition
      // change it makes is recorded: a copy killed in between leaves it with the broker, which
      // delivers it again.
      const tracked = tracker.track({
        envelope,
        trace: message.trace,
        finish,
      });
      publisher.publish(telemetrySubject(reading.plantId, reading.machineId), utf8(JSON.stringify(envelope)), { msgId: readingMessageId(reading) ?? envelope.eventId }).then(
        (ack) => {
          if (ack.duplicate) counts.duplicates++;
          else {
            counts.accepted++;
            deps.metrics?.readingsAccepted.inc({ plant: reading.plantId });
          }
          // A reading stored before (a device's repeat, or the broker's redelivery after a copy died
          // between storing and recording its condition change) is checked as it was stored first.
          if (!ack.duplicate || ack.retries > 0) tracked.acked(envelope);
          else {
            storedReading(ack.seq).then(
              (original) => tracked.acked(original ?? envelope),
              (err: unknown) => {
                logger.warn({ err, seq: ack.seq }, 'could not read back a repeated reading; the broker delivers it again');
                tracked.acked(false);
              },
            );
          }
        },
        (err: unknown) => {
          onPublishFailure(err, 'storing a reading');
          tracked.acked(false);
        },
      );
    } catch (err) {
      logger.error({ err, topic: message.topic }, 'processing a telemetry message failed; recording it as a dead letter');
      try {
        reject(message, `ingest could not process this message: ${(err as Error).message}`, finish);
      } catch (deadLetterErr) {
        logger.error({ err: deadLetterErr, topic: message.topic }, 'recording the dead letter failed too; the message stays with the MQTT broker');
        finish(false);
      }
    }
  }

  deps.health.register('mqtt', async () => {
    if (!source.connected) throw new Error(`not connected to the MQTT broker at ${withoutCredentials(config.mqttUrl)} (MQTT_URL); retrying`);
  });
  try {
    await source.start(options.connectTimeoutMs ?? 10_000);
  } catch (err) {
    logger.error({ err }, 'ingest started without an MQTT connection; it subscribes as soon as the broker answers');
  }

  return {
    metrics: () => ({
      ...counts,
      statusChanges: tracker.statusChanges,
      conditionConflicts: tracker.casConflicts,
      trackedMachines: tracker.trackedMachines,
      publishRetries: publisher.failedSends,
      inFlight,
      paused: source.paused,
      sharedSubscription: source.shared,
    }),
    async stop() {
      source.pause();
      const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
      if (inFlight > 0) {
        const allDone = new Promise<void>((resolve) => { drained = resolve; });
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), stopTimeoutMs); });
        const outcome = await Promise.race([allDone, timedOut]);
        clearTimeout(timer);
        if (outcome === 'timeout') {
          logger.warn({ inFlight, awaitingJetStream: publisher.pending, stopTimeoutMs }, 'stopping with messages still in progress; they were not PUBACKed, so the broker delivers them again');
        }
      }
      clearInterval(warningTimer);
      warnDue();
      tracker.stop();
      watch.stop();
      await source.stop();
      publisher.stop();
      logger.info({ ...counts, statusChanges: tracker.statusChanges }, 'ingest stopped');
    },
  };
}
