// The two sources the reporting tables follow, each resumed from its checkpoint:
// the event log (MaintenanceOrders, Resources, Approvals) through the event store's ordered
// subscription, and the telemetry stream (MESData) through an ordered JetStream read.
//
// Several copies of the service may run: each follows the whole log for its plants and writes the
// same rows. That is safe, only wasted work: every row change is applied only if the row's
// LastPosition is before the event's, each row is driven by one aggregate stream (ordered), and a
// checkpoint only moves forward, so whichever copy is ahead wins and a copy behind it changes
// nothing. On SQL Server two copies inserting the same new row serialise on a key-range lock (the
// loser is retried); on SQLite writers take turns on the database lock.
import type { EventStore, SqlOp, SqlSink, Subscription } from '@mes/platform';
import type { Logger } from '@mes/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProjectionWriter, projectEvent, readCheckpoint, type WriterStats } from './projectionWriter.js';
import type { ReportTableSet } from './reportingSchema.js';

export type SourceKind = 'events' | 'telemetry';

export interface SourceStatus {
  /** Checkpoint key: `events`, `events:P1`, `telemetry`, `telemetry:P1`. */
  source: string;
  kind: SourceKind;
  /** Unset: every plant. */
  plantId: string | undefined;
  /** Position of the last item applied (a log position, or a telemetry stream sequence). */
  checkpoint: bigint | undefined;
  stats: WriterStats;
}

export interface ProjectionSource {
  status(): SourceStatus;
  stop(): Promise<void>;
}

export function sourceKey(kind: SourceKind, plantId: string | undefined): string {
  return plantId === undefined ? kind : `${kind}:${plantId}`;
}

export interface FollowOptions {
  sink: SqlSink;
  tables: ReportTableSet;
  logger: Logger;
  plantId: string | undefined;
  batchSize?: number;
  flushMs?: number;
  /** Told the row ops of each committed batch. */
  onCommitted?: (ops: readonly SqlOp[]) => void;
}

/** Follows the event log from the checkpoint, for one plant or all. */
export async function followEventLog(store: EventStore, options: FollowOptions): Promise<ProjectionSource> {
  const source = sourceKey('events', options.plantId);
  const logger = options.logger.child({ source });
  const committed = await readCheckpoint(options.sink, source);
  const writer = new ProjectionWriter({ sink: options.sink, source, logger, committed, batchSize: options.batchSize, flushMs: options.flushMs, onCommitted: options.onCommitted });
  let stopped = false;
  let subscription: Subscription | undefined;

  const run = async () => {
    let failures = 0;
    while (!stopped) {
      // Resume after what is committed; anything queued but not committed is read again (a no-op if it was).
      await writer.flush().catch(() => undefined);
      const after = writer.committed;
      subscription = store.subscribeToAll({
        ...(after === undefined ? {} : { after }),
        ...(options.plantId === undefined ? {} : { plantId: options.plantId }),
        onEvent: (event) => writer.push(projectEvent(event, options.tables)),
      });
      try {
        await subscription.done;
        return;
      } catch (err) {
        if (stopped) return;
        failures++;
        logger.warn({ err, failures }, 'event log subscription ended; resuming from the checkpoint');
        await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  };
  const running = run();
  logger.info({ checkpoint: committed?.toString() ?? 'none' }, 'following the event log');

  return {
    status: () => ({ source, kind: 'events', plantId: options.plantId, checkpoint: writer.committed, stats: { ...writer.stats } }),
    async stop() {
      stopped = true;
      await subscription?.stop();
      await running;
      await writer.stop();
    },
  };
}
