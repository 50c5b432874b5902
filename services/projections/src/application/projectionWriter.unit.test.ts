import { createLogger, type SqlOp, type SqlSink, type SqlWriteOptions } from '@mes/platform';
import { describe, expect, it } from 'vitest';
import { ProjectionWriter, projectEvent, projectReading, type ProjectedItem } from './projectionWriter.js';
import { LIVE_TABLES } from './reportingSchema.js';

/** Records the writes; `answers` decides each one: true, false (a pause held it) or an error. */
function recordingSink(answers: (boolean | Error)[] = []): SqlSink & { writes: { ops: readonly SqlOp[]; options?: SqlWriteOptions }[] } {
  const writes: { ops: readonly SqlOp[]; options?: SqlWriteOptions }[] = [];
  return {
    dialect: 'sqlite',
    location: 'memory',
    writes,
    async write(ops, options) {
      const answer = answers.shift() ?? true;
      if (answer instanceof Error) throw answer;
      if (answer) writes.push({ ops, ...(options ? { options } : {}) });
      return answer;
    },
    migrate: async () => [],
    appliedMigrations: async () => [],
    select: async () => [],
    count: async () => 0,
    selectDistinct: async () => [],
    listTables: async () => [],
    ping: async () => undefined,
    close: async () => undefined,
  };
}

const logger = createLogger({ service: 'test', level: 'silent' });
const item = (position: bigint): ProjectedItem => ({ position, ops: [] });
const checkpointOf = (ops: readonly SqlOp[]) => ops.at(-1) as Extract<SqlOp, { kind: 'upsert' }>;

describe('projection writer', () => {
  it('commits a full batch at once, with the checkpoint of its last item in the same write', async () => {
    const sink = recordingSink();
    const writer = new ProjectionWriter({ sink, source: 'events', logger, batchSize: 3, flushMs: 10_000 });
    // Nothing to wait for while the batch fills; the item that fills it waits for the commit.
    expect(writer.push(item(1n))).toBeUndefined();
    expect(writer.push(item(2n))).toBeUndefined();
    const full = writer.push(item(3n));
    expect(full).toBeInstanceOf(Promise);
    await full;
    expect(sink.writes).toHaveLength(1);
    expect(checkpointOf(sink.writes[0]!.ops)).toMatchObject({ kind: 'upsert', key: { Source: 'events' }, position: 3n });
    expect(writer.committed).toBe(3n);
    expect(writer.stats).toMatchObject({ applied: 3, batches: 1 });
  });

  it('commits a partial batch after the flush delay', async () => {
    const sink = recordingSink();
    const writer = new ProjectionWriter({ sink, source: 'telemetry', logger, batchSize: 100, flushMs: 5 });
    await writer.push(item(7n));
    expect(sink.writes).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(writer.committed).toBe(7n);
  });

  it('retries a failed write until it succeeds, and reports the failure meanwhile', async () => {
    const sink = recordingSink([new Error('database is locked'), true]);
    const writer = new ProjectionWriter({ sink, source: 'events', logger, batchSize: 1 });
    await writer.push(item(1n));
    expect(sink.writes).toHaveLength(1);
    expect(writer.stats).toMatchObject({ failingSince: null, lastError: null, applied: 1 });
  });

  it('waits while a rebuild pauses the writes, then writes the same batch', async () => {
    const sink = recordingSink([false, false, true]);
    const writer = new ProjectionWriter({ sink, source: 'events', logger, batchSize: 1 });
    await writer.push(item(4n));
    expect(sink.writes).toHaveLength(1);
    expect(sink.writes[0]!.options?.guards?.[0]).toMatchObject({ table: 'ProjectionPauses', keyPrefix: '' });
    expect(writer.stats.pausedSince).toBeNull();
  });
});

describe('projected items', () => {
  it('skip an event this build cannot read, with the reason, and still advance', () => {
    const projected = projectEvent({ eventId: 'x', type: 'Unheard', version: 1, stream: 'P1.order.MO_1', occurredAt: '2026-01-01T00:00:00Z', correlationId: 'c', causationId: null, actor: { kind: 'service', id: 's' }, data: {}, position: 9n }, LIVE_TABLES);
    expect(projected).toMatchObject({ position: 9n, ops: [] });
    expect(projected.skipped).toMatch(/unknown event type "Unheard"/);
  });

  it('leave events no table shows undecoded (no rows, nothing skipped), but still skip a shown type they cannot read', () => {
    const envelope = { eventId: 'x', stream: 'P1.order.MO_1', occurredAt: '2026-01-01T00:00:00Z', correlationId: 'c', causationId: null, actor: { kind: 'service' as const, id: 's' }, data: { not: 'valid' }, position: 9n };
    expect(projectEvent({ ...envelope, type: 'WorkflowStarted', version: 7 }, LIVE_TABLES)).toEqual({ position: 9n, ops: [] });
    expect(projectEvent({ ...envelope, type: 'ApprovalEmailSent', version: 1 }, LIVE_TABLES)).toEqual({ position: 9n, ops: [] });
    expect(projectEvent({ ...envelope, type: 'MaintenanceOrderOpened', version: 1 }, LIVE_TABLES).skipped).toMatch(/MaintenanceOrderOpened v1 data is invalid/);
  });

  it('skip a telemetry message that is not a reading', () => {
    expect(projectReading(3, { type: 'Other', eventId: 'x' }, LIVE_TABLES)).toMatchObject({ position: 3n, ops: [], skipped: 'telemetry message 3 is not a MachineReadingRecorded event' });
    expect(projectReading(4, null, LIVE_TABLES).skipped).toMatch(/not a MachineReadingRecorded/);
  });
});
