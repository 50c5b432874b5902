// Applies projected items to the SQL sink in batches: up to `batchSize` items per transaction,
// or whatever arrived within `flushMs`, with the source's checkpoint written in the same
// transaction. Batches are committed one after the other, in order (a later batch never commits
// before an earlier one). A failed write is retried with a growing delay until it succeeds or the
// writer stops, so a SQL outage pauses the projection (and shows in the status) but loses nothing.
import { EventDecodeError, parseDomainEvent, type EventEnvelope } from '@mes/contracts';
import { POSITION_COLUMN, type SqlOp, type SqlSink } from '@mes/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@mes/platform';
import { eventRowChanges, eventTypeHasNoRows, readingRowChanges, type RowChange } from '../domain/reportingRows.js';
import { CHECKPOINTS_TABLE, notPausedGuard, type ReportTableSet } from './reportingSchema.js';

/** One event or reading, as the SQL ops it implies at its position. */
export interface ProjectedItem {
  position: bigint;
  ops: SqlOp[];
  /** Why this item changes nothing although it should have (it could not be read). */
  skipped?: string;
}

export function toSqlOps(changes: RowChange[], position: bigint, tables: ReportTableSet): SqlOp[] {
  return changes.map((change) =>
    change.kind === 'upsert'
      ? { kind: 'upsert', table: tables[change.table], key: change.key, values: change.values, ...(change.insertOnly ? { insertOnly: change.insertOnly } : {}), position }
      : { kind: 'update', table: tables[change.table], key: change.key, values: change.values, position },
  );
}

/** A stored event of the log, as row changes. An event this build cannot read is skipped with the reason. */
export function projectEvent(event: EventEnvelope & { position: bigint }, tables: ReportTableSet): ProjectedItem {
  // Most of the log: events no table shows, whatever their data, so not worth decoding.
  if (eventTypeHasNoRows(event.type)) return { position: event.position, ops: [] };
  try {
    return { position: event.position, ops: toSqlOps(eventRowChanges(parseDomainEvent(event.type, event.version, event.data)), event.position, tables) };
  } catch (err) {
    if (!(err instanceof EventDecodeError)) throw err;
    return { position: event.position, ops: [], skipped: `event ${event.eventId} (${event.type}) in ${event.stream}: ${err.message}` };
  }
}

/** Longest reading event id MESData.EventID holds. */
const MAX_EVENT_ID = 64;

/** A message of the telemetry stream (a MachineReadingRecorded envelope) as its MESData row. */
export function projectReading(seq: number, body: unknown, tables: ReportTableSet): ProjectedItem {
  const position = BigInt(seq);
  const envelope = body as Partial<EventEnvelope> | null;
  if (typeof envelope !== 'object' || envelope === null || envelope.type !== 'MachineReadingRecorded' || typeof envelope.eventId !== 'string') {
    return { position, ops: [], skipped: `telemetry message ${seq} is not a MachineReadingRecorded event` };
  }
  if (envelope.eventId.length > MAX_EVENT_ID) {
    return { position, ops: [], skipped: `telemetry message ${seq}: event id of ${envelope.eventId.length} characters; MESData.EventID holds ${MAX_EVENT_ID}` };
  }
  try {
    const event = parseDomainEvent('MachineReadingRecorded', envelope.version ?? 1, envelope.data);
    if (event.type !== 'MachineReadingRecorded') throw new Error('unreachable');
    return { position, ops: toSqlOps(readingRowChanges(envelope.eventId, event.data), position, tables) };
  } catch (err) {
    if (!(err instanceof EventDecodeError)) throw err;
    return { position, ops: [], skipped: `telemetry message ${seq}: ${err.message}` };
  }
}

export function checkpointOp(source: string, position: bigint, at: Date): SqlOp {
  return { kind: 'upsert', table: CHECKPOINTS_TABLE, key: { Source: source }, values: { UpdatedAt: at.toISOString() }, position };
}

/** The position a source's checkpoint holds, or undefined when it has none yet. */
export async function readCheckpoint(sink: SqlSink, source: string): Promise<bigint | undefined> {
  const [row] = await sink.select(CHECKPOINTS_TABLE, { where: { Source: source } });
  const position = row?.[POSITION_COLUMN];
  return typeof position === 'bigint' ? position : undefined;
}

export interface WriterStats {
  /** Items (events or readings) committed since start, including the skipped ones. */
  applied: number;
  skipped: number;
  batches: number;
  lastCommittedAt: string | null;
  /** When writes started failing (null while they succeed). */
  failingSince: string | null;
  /** Since when a rebuild holds the writes while it swaps the tables (null when it does not). */
  pausedSince: string | null;
  lastError: string | null;
}

export interface ProjectionWriterOptions {
  sink: SqlSink;
  /** Checkpoint key, e.g. `events` or `telemetry:P1`. */
  source: string;
  logger: Logger;
  /** Items per transaction. Default 1000. */
  batchSize?: number;
  /** Longest an item waits for its batch to fill. Default 20 ms. */
  flushMs?: number;
  /** Where the checkpoint stands when the writer starts. */
  committed?: bigint;
  now?: () => Date;
  /** Told the row ops of each batch once they are committed (the console's live updates). */
  onCommitted?: (ops: readonly SqlOp[]) => void;
}

class WriterStopped extends Error {
  constructor() {
    super('projection writer stopped');
  }
}

export class ProjectionWriter {
  readonly stats: WriterStats = { applied: 0, skipped: 0, batches: 0, lastCommittedAt: null, failingSince: null, pausedSince: null, lastError: null };
  /** The position of the last item committed. */
  committed: bigint | undefined;
  private pending: ProjectedItem[] = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private readonly batchSize: number;
  private readonly flushMs: number;

  constructor(private readonly options: ProjectionWriterOptions) {
    this.batchSize = options.batchSize ?? 1000;
    this.flushMs = options.flushMs ?? 20;
    this.committed = options.committed;
  }

  /**
   * Queues an item. Returns nothing while the batch fills (so a reader need not await each item),
   * and a promise of the batch's commit once it is full (backpressure).
   */
  push(item: ProjectedItem): Promise<void> | undefined {
    this.pending.push(item);
    if (this.pending.length >= this.batchSize) return this.flush();
    this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), this.flushMs);
    return undefined;
  }

  /** Commits what is queued; resolves when every batch so far has committed. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      this.chain = this.chain.then(() => this.commit(batch));
    }
    return this.chain;
  }

  /** Commits what is queued with one attempt per batch, then refuses more. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.flush().catch(() => undefined);
  }

  private async commit(batch: ProjectedItem[]): Promise<void> {
    const last = batch.at(-1)!.position;
    const now = this.options.now ?? (() => new Date());
    const ops = batch.flatMap((item) => item.ops);
    ops.push(checkpointOp(this.options.source, last, now()));
    for (let failures = 0; ; ) {
      try {
        if (await this.options.sink.write(ops, { guards: [notPausedGuard(now())] })) break;
        // A rebuild is swapping the tables in: wait for it, then write into the new ones.
        this.stats.pausedSince ??= new Date().toISOString();
        if (this.stopping) throw new WriterStopped();
        await sleep(50);
        continue;
      } catch (err) {
        if (err instanceof WriterStopped) throw err;
        failures++;
        const message = (err as Error).message;
        this.stats.failingSince ??= new Date().toISOString();
        this.stats.lastError = message;
        if (this.stopping) throw new WriterStopped();
        this.options.logger.error({ err, source: this.options.source, items: batch.length, failures }, 'writing the reporting tables failed; retrying the batch');
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures - 1, 6)));
      }
    }
    for (const item of batch) {
      if (item.skipped !== undefined) {
        this.stats.skipped++;
        this.options.logger.error({ source: this.options.source, position: item.position.toString(), reason: item.skipped }, 'item skipped: the reporting tables do not show it');
      }
    }
    if (this.stats.failingSince !== null) this.options.logger.info({ source: this.options.source }, 'writing the reporting tables works again');
    this.stats.failingSince = null;
    this.stats.pausedSince = null;
    this.stats.lastError = null;
    this.stats.applied += batch.length;
    this.stats.batches++;
    this.stats.lastCommittedAt = new Date().toISOString();
    this.committed = last;
    this.options.onCommitted?.(ops.slice(0, -1));
  }
}
