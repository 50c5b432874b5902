// `mes projections rebuild`: rebuilds every reporting table from the logs while the live
// projection keeps running and new events keep arriving.
//
// 1. Shadow tables (`{table}__rebuild_{id}`) are created empty and filled from position 0 of the
//    event log and of the telemetry stream, in batches, with the same projection rules as the live
//    tables. The rebuild's own progress is kept in memory: an interrupted rebuild starts over (its
//    leftover shadow tables are dropped by the next one).
// 2. Catch-up rounds read what arrived meanwhile, both sources at once, until a round finds little.
// 3. The live projections (in any process) are paused: a row in ProjectionPauses, checked by every
//    live batch inside its transaction, holds their writes for at most 30 s. The rebuild catches up
//    to wherever their checkpoints got, then swaps in one transaction: with the live tables locked,
//    it checks that no live checkpoint is past the rebuild's positions (else it unpauses, catches up
//    again and retries), drops the live tables, renames the shadows in their place, raises the
//    checkpoints to the rebuild's positions and lifts the pause.
//    A live projection then carries on from its own position: the events between its checkpoint
//    and the rebuild's are already in the new rows, so applying them again changes nothing (every
//    row remembers its last position), and the checkpoint never moves back.
// One rebuild at a time: a second one would drop the first one's shadow tables.
import type { EventStore, SqlOp, SqlSink } from '@mes/platform';
import { checkpointOp, projectEvent, projectReading, type ProjectedItem } from './projectionWriter.js';
import { CHECKPOINTS_TABLE, LIVE_TABLES, PAUSES_TABLE, REPORTING_MIGRATIONS, SHADOW_TABLE_PATTERN, shadowTables, type ReportTableSet } from './reportingSchema.js';
import { REPORT_TABLES } from '../domain/reportingRows.js';

/** The telemetry stream as the rebuild reads it. */
export interface TelemetryLog {
  /** Every message after sequence `afterSeq` up to the end of the stream. */
  read(afterSeq: number): AsyncIterable<{ seq: number; body: unknown }>;
  /** Sequence of the last message, undefined when empty. */
  end(): Promise<bigint | undefined>;
}

export interface RebuildDeps {
  sink: SqlSink;
  eventStore: EventStore;
  telemetry: TelemetryLog;
  /** Position of the last event in the log, for progress; undefined when not known. */
  eventsEnd?(): Promise<bigint | undefined>;
}

export type RebuildSource = 'events' | 'telemetry';

export interface RebuildProgress {
  phase: 'copying' | 'catching up' | 'swapping' | 'done';
  source: RebuildSource;
  /** Items (events or readings) applied so far from this source. */
  applied: number;
  /** Items per second from this source since the rebuild started. */
  rate: number;
  position: bigint | undefined;
  /** Where the source's log ended when this pass began, when known. */
  end: bigint | undefined;
  elapsedMs: number;
}

export interface RebuildReport {
  events: { applied: number; position: bigint | undefined };
  telemetry: { applied: number; position: bigint | undefined };
  elapsedMs: number;
  swapAttempts: number;
}

export interface RebuildOptions {
  /** Items per transaction. Default 5000. */
  batchSize?: number;
  onProgress?(progress: RebuildProgress): void;
  /** Least time between two progress reports of one pass. Default 1000 ms. */
  progressEveryMs?: number;
  /** Catch-up rounds go on (five at most) until one applies no more than this; then the swap is tried. Default 500. */
  settleBelow?: number;
  /** Swap attempts before giving up (each one after a catch-up pass). Default 50. */
  maxSwapAttempts?: number;
}

/** How long the live projections hold their writes at most, should the rebuild die while they do. */
const PAUSE_LEASE_MS = 30_000;

export class RebuildError extends Error {
  readonly code = 'REBUILD_FAILED';
}

export async function rebuildReportingTables(deps: RebuildDeps, options: RebuildOptions = {}): Promise<RebuildReport> {
  const { sink } = deps;
  const batchSize = options.batchSize ?? 5_000;
  const settleBelow = options.settleBelow ?? 500;
  const maxSwapAttempts = options.maxSwapAttempts ?? 50;
  const progressEveryMs = options.progressEveryMs ?? 1_000;
  const started = Date.now();

  await sink.migrate(REPORTING_MIGRATIONS);
  const leftovers = (await sink.listTables()).filter((name) => SHADOW_TABLE_PATTERN.test(name));
  if (leftovers.length > 0) await sink.write(leftovers.map((name): SqlOp => ({ kind: 'dropTable', name })));
  const shadow: ReportTableSet = shadowTables(`rebuild_${Date.now().toString(36)}`);
  await sink.write(REPORT_TABLES.map((name): SqlOp => ({ kind: 'createTable', table: shadow[name] })));

  const state: Record<RebuildSource, { applied: number; position: bigint | undefined; end: bigint | undefined }> = {
    events: { applied: 0, position: undefined, end: undefined },
    telemetry: { applied: 0, position: undefined, end: undefined },
  };
  let lastReport = 0;
  const report = (phase: RebuildProgress['phase'], source: RebuildSource, force: boolean) => {
    if (!options.onProgress || (!force && Date.now() - lastReport < progressEveryMs)) return;
    lastReport = Date.now();
    const elapsedMs = Date.now() - started;
    const { applied, position, end } = state[source];
    options.onProgress({ phase, source, applied, rate: elapsedMs > 0 ? Math.round((applied * 1000) / elapsedMs) : 0, position, end, elapsedMs });
  };

  const write = async (source: RebuildSource, batch: ProjectedItem[]) => {
    if (batch.length === 0) return;
    await sink.write(batch.flatMap((item) => item.ops));
    state[source].applied += batch.length;
    state[source].position = batch.at(-1)!.position;
  };

  /** Reads one source from where the rebuild stands to `end` (inclusive; undefined: as far as the read goes). */
  const copy = async (phase: 'copying' | 'catching up', source: RebuildSource, end: bigint | undefined): Promise<number> => {
    const before = state[source].applied;
    const after = state[source].position;
    let batch: ProjectedItem[] = [];
    /** Queues an item; false once past the end (the log keeps growing while it is read: a pass stops at the end it set out for). */
    const add = (item: ProjectedItem): boolean => {
      if (end !== undefined && item.position > end) return false;
      batch.push(item);
      return true;
    };
    const writeFull = async () => {
      await write(source, batch);
      batch = [];
      report(phase, source, false);
    };
    // Each log read in its own loop (no generator in between: it would cost a few awaits per item).
    if (source === 'events') {
      for await (const event of deps.eventStore.readAll(after === undefined ? {} : { after })) {
        if (!add(projectEvent(event, shadow))) break;
        if (batch.length >= batchSize) await writeFull();
      }
    } else {
      for await (const message of deps.telemetry.read(after === undefined ? 0 : Number(after))) {
        if (!add(projectReading(message.seq, message.body, shadow))) break;
        if (batch.length >= batchSize) await writeFull();
      }
    }
    await write(source, batch);
    report(phase, source, true);
    return state[source].applied - before;
  };

  /** Reads a source to its end, then to the new end, until a read finds nothing new (ten reads at most). */
  const catchUp = async (phase: 'copying' | 'catching up', source: RebuildSource): Promise<number> => {
    let total = 0;
    for (let read = 0; read < 10; read++) {
      const end = source === 'events' ? await deps.eventsEnd?.().catch(() => undefined) : await deps.telemetry.end().catch(() => undefined);
      state[source].end = end;
      const position = state[source].position;
      if (end !== undefined && position !== undefined && end <= position) break;
      const applied = await copy(phase, source, end);
      total += applied;
      if (applied === 0 || end === undefined) break;
    }
    return total;
  };

  /** Both sources at once, so that each one's read ends as close as possible to the swap. */
  const pass = async (phase: 'copying' | 'catching up'): Promise<number> => {
    const [events, telemetry] = await Promise.all([catchUp(phase, 'events'), catchUp(phase, 'telemetry')]);
    return events + telemetry;
  };

  await pass('copying');
  const pauseKey = { Name: 'rebuild' };
  const unpause = () => sink.write([{ kind: 'delete', table: PAUSES_TABLE, key: pauseKey }]);
  try {
    for (let attempt = 1; ; attempt++) {
      // Rounds until one brings little, so little is left to read while the live writes are held.
      for (let round = 0; round < 5; round++) if ((await pass('catching up')) <= settleBelow) break;
      // Hold the live projections' writes (every live batch checks this row in its transaction),
      // catch up to wherever they got, and swap while they wait.
      await sink.write([{ kind: 'upsert', table: PAUSES_TABLE, key: pauseKey, values: { UpdatedAt: new Date().toISOString() }, position: BigInt(Date.now() + PAUSE_LEASE_MS) }]);
      const checkpoints = await sink.select(CHECKPOINTS_TABLE);
      const liveAt = (source: RebuildSource) =>
        checkpoints.filter((row) => String(row.Source).startsWith(source)).reduce<bigint>((max, row) => (row.LastPosition as bigint) > max ? (row.LastPosition as bigint) : max, 0n);
      for (let round = 0; round < 10; round++) {
        if ((['events', 'telemetry'] as const).every((source) => (state[source].position ?? 0n) >= liveAt(source))) break;
        await pass('catching up');
      }
      const ops: SqlOp[] = REPORT_TABLES.flatMap((name): SqlOp[] => [
        { kind: 'dropTable', name: LIVE_TABLES[name].name },
        { kind: 'renameTable', from: shadow[name].name, to: LIVE_TABLES[name].name },
      ]);
      for (const source of ['events', 'telemetry'] as const) {
        const position = state[source].position;
        if (position !== undefined) ops.push(checkpointOp(source, position, new Date()));
      }
      ops.push({ kind: 'delete', table: PAUSES_TABLE, key: pauseKey });
      // The guard still stands should a live copy not have seen the pause (e.g. its clock is far off).
      const swapped = await sink.write(ops, {
        lockTables: REPORT_TABLES.map((name) => LIVE_TABLES[name].name),
        guards: (['events', 'telemetry'] as const).map((source) => ({
          table: CHECKPOINTS_TABLE.name,
          keyColumn: 'Source',
          keyPrefix: source,
          atMost: state[source].position ?? 0n,
        })),
      });
      report('swapping', 'events', true);
      if (swapped) {
        report('done', 'events', true);
        report('done', 'telemetry', true);
        return {
          events: { applied: state.events.applied, position: state.events.position },
          telemetry: { applied: state.telemetry.applied, position: state.telemetry.position },
          elapsedMs: Date.now() - started,
          swapAttempts: attempt,
        };
      }
      await unpause();
      if (attempt >= maxSwapAttempts) {
        throw new RebuildError(`the live projection stayed ahead of the rebuild through ${maxSwapAttempts} attempts to swap the tables; the live tables are unchanged`);
      }
    }
  } catch (err) {
    await unpause().catch(() => undefined);
    await sink.write(REPORT_TABLES.map((name): SqlOp => ({ kind: 'dropTable', name: shadow[name].name }))).catch(() => undefined);
    throw err;
  }
}
