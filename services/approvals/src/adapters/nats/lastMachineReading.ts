// A machine's last accepted reading: the last message on its subject of the telemetry stream,
// read directly (no consumer), as ingest stored it (an event envelope around the reading).
import { TELEMETRY_STREAM, TelemetryReadingSchema, telemetrySubject, type TelemetryReading } from '@mes/contracts';
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export type LastMachineReading = (plantId: string, machineId: string) => Promise<TelemetryReading | null>;

/** Null when the machine has no reading in the stream; throws when NATS cannot answer or the message is not a reading. */
export function lastMachineReadingFrom(nc: NatsConnection, stream: string = TELEMETRY_STREAM): LastMachineReading {
  let jsm: Promise<JetStreamManager> | undefined;
  return async (plantId, machineId) => {
    jsm ??= jetstreamManager(nc).catch((err: unknown) => {
      jsm = undefined;
      throw err;
    });
    let message;
    try {
      message = await (await jsm).streams.getMessage(stream, { last_by_subj: telemetrySubject(plantId, machineId) });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
      throw err;
    }
    if (message === null) return null;
    const envelope = message.json<{ data?: unknown }>();
    const parsed = TelemetryReadingSchema.safeParse(envelope.data);
    if (!parsed.success) throw new Error(`the last message on ${message.subject} (seq ${message.seq}) is not a telemetry reading envelope`);
    return parsed.data;
  };
}
