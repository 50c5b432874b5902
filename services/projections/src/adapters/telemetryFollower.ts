// Follows MES_TELEMETRY (`telemetry.{plantId}.{machineId}`) in stream order from the checkpoint
// (a stream sequence) through a short-lived ordered consumer with a singular `filter_subject`
// (nats-server 2.9 ignores `filter_subjects`), re-created after an interruption.
import { TELEMETRY_STREAM, TELEMETRY_SUBJECT_PREFIX } from '@mes/contracts';
import { FetchAhead, createOrderedConsumer, deleteConsumerQuietly, deliveryCounter } from '@mes/platform';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProjectionWriter, projectReading, readCheckpoint } from '../application/projectionWriter.js';
import { sourceKey, type FollowOptions, type ProjectionSource } from '../application/projectionSources.js';

export function telemetryFilter(plantId: string | undefined): string {
  return `${TELEMETRY_SUBJECT_PREFIX}.${plantId ?? '*'}.>`;
}

export interface TelemetrySource extends ProjectionSource {
  /** Messages after the last one read, as the server counted when it was delivered. */
  behind(): number | undefined;
}

export async function followTelemetry(nc: NatsConnection, options: FollowOptions & { stream?: string }): Promise<TelemetrySource> {
  const stream = options.stream ?? TELEMETRY_STREAM;
  const source = sourceKey('telemetry', options.plantId);
  const filter = telemetryFilter(options.plantId);
  const logger = options.logger.child({ source });
  const committed = await readCheckpoint(options.sink, source);
  const writer = new ProjectionWriter({ sink: options.sink, source, logger, committed, batchSize: options.batchSize, flushMs: options.flushMs, onCommitted: options.onCommitted });
  const js = jetstream(nc);
  let stopped = false;
  let current: FetchAhead | undefined;
  let lastRead = committed === undefined ? 0 : Number(committed);
  let behind: number | undefined;

  const run = async () => {
    let failures = 0;
    while (!stopped) {
      let jsm: JetStreamManager | undefined;
      let consumerName: string | undefined;
      try {
        jsm = await jetstreamManager(nc);
        const created = await createOrderedConsumer(jsm, stream, filter, lastRead + 1);
        consumerName = created.name;
        behind = created.pending;
        const consumer = await js.consumers.get(stream, created.name);
        const counted = deliveryCounter(stream, filter);
        current = new FetchAhead(consumer, { max_messages: 1024, expires: 2_000, idle_heartbeat: 1_000 });
        if (!stopped) {
          for await (const msg of current.messages()) {
            // A hole (messages lost in transit) ends this consumer: the loop resumes after the last message read.
            counted(msg);
            failures = 0;
            if (options.plantId !== undefined && !msg.subject.startsWith(`${TELEMETRY_SUBJECT_PREFIX}.${options.plantId}.`)) {
              throw new Error(`telemetry read for plant ${options.plantId} returned ${msg.subject}: the consumer filter was not applied`);
            }
            let body: unknown;
            try {
              body = msg.json();
            } catch {
              body = null;
            }
            const full = writer.push(projectReading(msg.seq, body, options.tables));
            if (full) await full;
            lastRead = msg.seq;
            behind = msg.info.pending;
            if (stopped) break;
          }
        }
      } catch (err) {
        if (stopped) break;
        failures++;
        logger.warn({ err, failures }, 'telemetry read interrupted; resuming after the last message read');
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      } finally {
        current?.stop();
        if (jsm && consumerName) deleteConsumerQuietly(jsm, stream, consumerName);
      }
    }
  };
  const running = run();
  logger.info({ checkpoint: committed?.toString() ?? 'none' }, 'following the telemetry stream');

  return {
    status: () => ({ source, kind: 'telemetry', plantId: options.plantId, checkpoint: writer.committed, stats: { ...writer.stats } }),
    behind: () => behind,
    async stop() {
      stopped = true;
      current?.stop();
      await running;
      await writer.stop();
    },
  };
}
