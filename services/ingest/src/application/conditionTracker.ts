// Turns acknowledged readings into MachineStatusChanged events. Per machine, readings are handled
// in the order they arrived and one at a time; machines proceed in parallel.
//
// A change is first claimed in KV (compare-and-set on the machine's entry, so of two ingest copies
// only one reports a transition; the loser re-reads and decides again), then appended to the
// machine's event-store stream with `expectedRevision: 'any'` and an event id derived from the
// reading's, so a retry is stored once. The KV entry carries the event: whoever next finds an entry
// whose event it has not seen stored (after a crash between the two writes, or an entry written by
// another copy) checks the stream's last event and appends it if missing, before going on.
import { streamName, type TelemetryReading, type TraceContextFields } from '@mes/contracts';
import { inSpan, type EventStore } from '@mes/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { MachineConditionKv, StoredCondition, VersionedCondition } from '../adapters/machineConditionKv.js';
import { conditionKey } from '../adapters/machineConditionKv.js';
import { decideConditionChange, type ReadingTimes } from '../domain/machineCondition.js';
import { statusChangedEvent, type ReadingEnvelope, type StatusChangedEvent } from '../domain/readingEvents.js';

/**
 * A reading waiting its turn. `finish(handled)` is called once it needs nothing more: `handled`
 * when its condition change (if any) is recorded, so the device may be told it was received; not
 * when it was abandoned (a failed store, a stop), so the broker delivers it again.
 */
export interface TrackedReading {
  envelope: ReadingEnvelope;
  /** The device's trace context (MQTT 5), continued by the span of the change the reading records. */
  trace?: TraceContextFields | undefined;
  finish(handled: boolean): void;
}

interface QueuedReading extends TrackedReading {
  /** 'pending': not stored yet; 'check': stored, look for a change; 'skip': not stored, nothing to do. */
  state: 'pending' | 'check' | 'skip';
}

interface MachineRecord {
  key: string;
  stream: string;
  edges: readonly number[];
  queue: QueuedReading[];
  busy: boolean;
  /** undefined: not loaded yet (or changed by another copy since). */
  known: VersionedCondition | undefined;
  /** The known entry's event is in the event store. */
  confirmed: boolean;
}

export interface ConditionTrackerDeps {
  kv: MachineConditionKv;
  /** The machine streams of the event store: an append (idempotent by event id) and a look at the last event. */
  eventLog: Pick<EventStore, 'appendToStream' | 'lastEvent'>;
  edgesByPlant: ReadonlyMap<string, readonly number[]>;
  logger: Logger;
  /**
   * Machines whose last condition is kept in memory (default 10,000). Past it, the machine seen
   * longest ago with nothing in progress is forgotten and read from KV again on its next reading,
   * so readings for ever new machine ids (an open plant) cannot grow memory without bound.
   */
  maxMachines?: number;
}

export const DEFAULT_MAX_TRACKED_MACHINES = 10_000;

const MAX_BACKOFF_MS = 5_000;

export class ConditionTracker {
  private readonly machines = new Map<string, MachineRecord>();
  private stopped = false;
  private changes = 0;
  private conflicts = 0;
  private repairs = 0;

  constructor(private readonly deps: ConditionTrackerDeps) {}

  get statusChanges(): number {
    return this.changes;
  }

  get casConflicts(): number {
    return this.conflicts;
  }

  get repairedAppends(): number {
    return this.repairs;
  }

  /** Machines whose condition is in memory now. */
  get trackedMachines(): number {
    return this.machines.size;
  }

  /**
   * Queues a reading whose publish has started; settle it with `acked`: `stored` false when it
   * could not be stored; `stored` is the envelope to check, which for a reading JetStream already
   * had is the one stored first (its time and id), not the repeat's.
   */
  track(reading: TrackedReading): { acked(stored: ReadingEnvelope | false): void } {
    const { plantId, machineId } = reading.envelope.data;
    const key = conditionKey(plantId, machineId);
    let record = this.machines.get(key);
    if (record !== undefined) {
      // The map's order is the order machines were last seen: oldest first, for eviction.
      this.machines.delete(key);
      this.machines.set(key, record);
    } else {
      record = {
        key,
        stream: streamName(plantId, 'machine', machineId),
        edges: this.deps.edgesByPlant.get(plantId) ?? [],
        queue: [],
        busy: false,
        known: undefined,
        confirmed: false,
      };
      this.machines.set(key, record);
      this.evictIdle();
    }
    const queued: QueuedReading = { envelope: reading.envelope, trace: reading.trace, finish: reading.finish, state: 'pending' };
    record.queue.push(queued);
    const machine = record;
    return {
      acked: (stored) => {
        if (stored === false) queued.state = 'skip';
        else {
          queued.state = 'check';
          queued.envelope = stored;
        }
        this.pump(machine);
      },
    };
  }

  /** A write seen on the bucket: when it is newer than what this copy knows (another copy wrote it), reload before the next decision. */
  observe(key: string, revision: number): void {
    const record = this.machines.get(key);
    if (record === undefined || record.busy || record.known === undefined || record.known.revision >= revision) return;
    record.known = undefined;
    record.confirmed = false;
  }

  private evictIdle(): void {
    let excess = this.machines.size - (this.deps.maxMachines ?? DEFAULT_MAX_TRACKED_MACHINES);
    if (excess <= 0) return;
    for (const [key, record] of this.machines) {
      if (excess <= 0) break;
      if (record.busy || record.queue.length > 0) continue;
      this.machines.delete(key);
      excess--;
    }
  }

  /** Abandons readings still waiting (their transitions are found again from KV on the next reading). */
  stop(): void {
    this.stopped = true;
  }

  private pump(record: MachineRecord): void {
    while (!record.busy) {
      const head = record.queue[0];
      if (head === undefined || head.state === 'pending') return;
      if (head.state === 'skip' || this.stopped) {
        record.queue.shift();
        head.finish(false);
        continue;
      }
      if (record.known?.value) {
        const decision = decideConditionChange(record.known.value.observed, head.envelope.data, record.edges, readingTimes(record.known.value, head.envelope.data));
        if (!decision.changed) {
          record.queue.shift();
          head.finish(true);
          continue;
        }
      }
      record.busy = true;
      void this.report(record, head.envelope, head.trace).then(
        (recorded) => {
          record.busy = false;
          record.queue.shift();
          head.finish(recorded);
          this.pump(record);
        },
      );
    }
  }

  /**
   * Loads the machine's entry if needed, then records and appends the change the reading makes, if
   * any. False when it was stopped before that was done.
   */
  private async report(record: MachineRecord, envelope: ReadingEnvelope, trace: TraceContextFields | undefined): Promise<boolean> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.reportOnce(record, envelope.data, envelope, trace);
        return true;
      } catch (err) {
        const delay = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(attempt, 10));
        this.deps.logger.warn({ err, machine: record.key, retryInMs: delay }, 'could not record a machine condition change; retrying');
        await sleep(delay);
      }
    }
    return false;
  }

  private async reportOnce(record: MachineRecord, reading: TelemetryReading, envelope: ReadingEnvelope, trace: TraceContextFields | undefined): Promise<void> {
    for (;;) {
      if (record.known === undefined) {
        record.known = await this.deps.kv.get(record.key);
        record.confirmed = false;
      }
      const known = record.known;
      const stored = known.value;
      if (stored !== null && !record.confirmed && !(await this.confirm(record, known.revision, stored))) continue;

      const decision = decideConditionChange(known.value?.observed ?? null, reading, record.edges, stored === null ? undefined : readingTimes(stored, reading));
      if (!decision.changed) return;
      const event = statusChangedEvent(envelope, decision.previous?.condition ?? null, decision.current.condition);
      const value = { observed: decision.current, event };
      const revision = await this.deps.kv.compareAndSet(record.key, value, known.revision, event.eventId);
      if (revision === 'conflict') {
        // Another copy recorded a condition first: read it and decide again against it.
        this.conflicts++;
        record.known = undefined;
        continue;
      }
      record.known = { value, revision };
      record.confirmed = false;
      // A reading that changes a machine's condition starts the incident's trace (one span per
      // change, not per reading): everything the change leads to continues it.
      await inSpan(
        `reading ${reading.machineId}`,
        { kind: 'consumer', root: true, parent: trace, attributes: () => readingSpanAttributes(envelope, event) },
        () => this.deps.eventLog.appendToStream(record.stream, [event], { expectedRevision: 'any' }),
      );
      record.confirmed = true;
      this.changes++;
      return;
    }
  }

  /**
   * Makes sure the event that reported `known` is stored (its writer may have died between KV and
   * the append). False when `known` turned out to be stale: it was re-read, decide again.
   */
  private async confirm(record: MachineRecord, revision: number, stored: StoredCondition): Promise<boolean> {
    const lastId = (await this.deps.eventLog.lastEvent(record.stream))?.eventId;
    if (lastId !== stored.event.eventId) {
      // Only the current entry's event may be missing; a newer entry means ours was stale.
      const current = await this.deps.kv.get(record.key);
      if (current.revision !== revision) {
        record.known = current;
        record.confirmed = false;
        return false;
      }
      await this.deps.eventLog.appendToStream(record.stream, [stored.event], { expectedRevision: 'any' });
      this.repairs++;
      this.deps.logger.warn({ machine: record.key, eventId: stored.event.eventId }, 'appended a MachineStatusChanged that was recorded in KV but missing from the event store');
    }
    record.confirmed = true;
    return true;
  }
}

function readingSpanAttributes(envelope: ReadingEnvelope, event: StatusChangedEvent): Record<string, string> {
  const { plantId, machineId, machineStatus, qualityTrend } = envelope.data;
  return {
    'messaging.system': 'mqtt',
    'messaging.destination.name': `mes/${plantId}/${machineId}/telemetry`,
    'messaging.message.id': envelope.eventId,
    'mes.correlation_id': event.correlationId,
    'mes.plant_id': plantId,
    'mes.machine_id': machineId,
    'mes.machine_status': machineStatus,
    'mes.quality_trend': qualityTrend,
  };
}

/** The reading that set `stored` and `reading`, by reading time: an older or repeated reading changes nothing. */
function readingTimes(stored: StoredCondition, reading: TelemetryReading): ReadingTimes {
  return { previousReadingAt: stored.event.data.reading.timestamp, readingAt: reading.timestamp };
}
