// Each machine's last reported condition in the KV bucket `mes_machine_conditions`, key
// `{plantId}.{machineId}`. Writes are compare-and-set on the entry's revision, so of two ingest
// copies that see the same transition only one records (and reports) it; they go through the
// windowed publisher (PipelinedKv), not a request per put.
import { MACHINE_CONDITIONS_BUCKET } from '@mes/contracts';
import { PipelinedKv, type JetStreamAckPublisher } from '@mes/platform';
import type { KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ObservedCondition } from '../domain/machineCondition.js';
import type { StatusChangedEvent } from '../domain/readingEvents.js';

/** What the bucket holds per machine: the condition and the event that reported it. */
export interface StoredCondition {
  observed: ObservedCondition;
  /** The MachineStatusChanged that reported this condition; kept so any copy can finish its append after a crash. */
  event: StatusChangedEvent;
}

export interface VersionedCondition {
  /** Null when the key has no value (never written, or deleted). */
  value: StoredCondition | null;
  /** The entry's revision; 0 when the key was never written. The expected revision of the next write. */
  revision: number;
}

export function conditionKey(plantId: string, machineId: string): string {
  return `${plantId}.${machineId}`;
}

function decode(entry: KvEntry | null): VersionedCondition {
  if (entry === null) return { value: null, revision: 0 };
  if (entry.operation !== 'PUT' || entry.length === 0) return { value: null, revision: entry.revision };
  return { value: entry.json<StoredCondition>(), revision: entry.revision };
}

export class MachineConditionKv {
  private readonly encoder = new TextEncoder();

  private constructor(private readonly bucket: PipelinedKv) {}

  static async open(nc: NatsConnection, publisher: JetStreamAckPublisher): Promise<MachineConditionKv> {
    return new MachineConditionKv(await PipelinedKv.open(nc, MACHINE_CONDITIONS_BUCKET, publisher));
  }

  async get(key: string): Promise<VersionedCondition> {
    return decode(await this.bucket.kv.get(key));
  }

  /**
   * Writes `value` if the entry is still at `revision`. Returns the new revision, or 'conflict'
   * when another writer got there first. `writeId` makes a resend of the same write a no-op.
   */
  compareAndSet(key: string, value: StoredCondition, revision: number, writeId: string): Promise<number | 'conflict'> {
    return this.bucket.compareAndSet(key, this.encoder.encode(JSON.stringify(value)), revision, writeId);
  }

  /** Calls `onWrite` with the key and revision of every later write to the bucket (by any copy), until `stop`. */
  async watch(onWrite: (key: string, revision: number) => void, logger: Logger): Promise<{ stop(): void }> {
    const iterator = await this.bucket.kv.watch({ include: 'updates', headers_only: true });
    void (async () => {
      try {
        for await (const entry of iterator) onWrite(entry.key, entry.revision);
      } catch (err) {
        logger.warn({ err }, 'machine condition watch ended; conditions recorded by other ingest copies are picked up on the next compare-and-set');
      }
    })();
    return { stop: () => iterator.stop() };
  }
}
