// What a rebuild reads: the telemetry stream in order over NATS, the event log through the event
// store, and where each ends (for progress reports).
import { TELEMETRY_STREAM } from '@mes/contracts';
import { lastMessageOf, readRange, type EventStore, type SqlSink } from '@mes/platform';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RebuildDeps, TelemetryLog } from '../application/rebuildReportingTables.js';
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
      const last = await lastMessageOf(nc, await jetstreamManager(nc), stream, telemetryFilter(undefined));
      return last ? BigInt(last.seq) : undefined;
    },
  };
}

export function rebuildDeps(options: { sink: SqlSink; eventStore: EventStore; nc: NatsConnection }): RebuildDeps {
  return {
    sink: options.sink,
    eventStore: options.eventStore,
    telemetry: jetStreamTelemetryLog(options.nc),
    eventsEnd: () => options.eventStore.headPosition(),
  };
}
