// What a rebuild reads, over NATS: the telemetry stream in order, and where the JetStream-held
// event log and telemetry stream end (for progress reports).
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, TELEMETRY_STREAM } from '@mes/contracts';
import { readRange, type EventStore, type SqlSink } from '@mes/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RebuildDeps, TelemetryLog } from '../application/rebuildReportingTables.js';
import { lastEventPosition, lastMessage } from './jetStreamLogEnd.js';
import { telemetryFilter } from './telemetryFollower.js';

export function jetStreamTelemetryLog(nc: NatsConnection, stream = TELEMETRY_STREAM): TelemetryLog {
  return {
    async *read(afterSeq) {
      const jsm = await jetstreamManager(nc);
      for await (const msg of readRange(jetstream(nc), jsm, stream, telemetryFilter(undefined), afterSeq + 1)) {
        let body: unknown = null;
        try {
          body = msg.json();
        } catch {
          // projectReading reports it as skipped.
        }
        yield { seq: msg.seq, body };
      }
    },
    async end() {
      const last = await lastMessage(nc, await jetstreamManager(nc), stream, telemetryFilter(undefined));
      return last ? BigInt(last.seq) : undefined;
    },
  };
}

export function rebuildDeps(options: { sink: SqlSink; eventStore: EventStore; nc: NatsConnection; eventsInJetStream: boolean }): RebuildDeps {
  const { nc } = options;
  return {
    sink: options.sink,
    eventStore: options.eventStore,
    telemetry: jetStreamTelemetryLog(nc),
    ...(options.eventsInJetStream
      ? {
          eventsEnd: async () => {
            const last = await lastMessage(nc, await jetstreamManager(nc), EVENTS_STREAM, `${EVENTS_SUBJECT_PREFIX}.>`);
            return last ? lastEventPosition(last) : undefined;
          },
        }
      : {}),
  };
}
