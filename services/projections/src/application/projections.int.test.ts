// The projections service against a real nats-server and real SQLite files: a history of every
// kind of event, replays, restarts, the status route, and rebuilds (also while events keep coming).
import { openSqlSink, type Runtime, type SqlSink } from '@mes/platform';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildDeps } from '../adapters/rebuildSources.js';
import { reportingSnapshot, rowCounts } from '../testing/reportingSnapshot.js';
import { projectionStatus, startProjectionsFixture, startProjectionsRuntime, TEST_API_TOKEN, waitUntilCaughtUp, type ProjectionsFixture } from '../testing/projectionsFixture.js';
import { writeSyntheticHistory } from '../testing/syntheticHistory.js';
import { projectEvent } from './projectionWriter.js';
import { CHECKPOINTS_TABLE, LIVE_TABLES } from './reportingSchema.js';
import { rebuildReportingTables, type RebuildProgress } from './rebuildReportingTables.js';
import { createProjectionsService } from './startProjections.js';

describe('projections service', () => {
  let fixture: ProjectionsFixture;
  let runtime: Runtime;
  let live: SqlSink;

  const start = async () => startProjectionsRuntime(fixture, { projections: createProjectionsService({ batchSize: 40 }) });
  /** Rebuilds from the whole log into a database of its own: the reference every table is compared with. */
  const reference = async (name: string) => {
    const sink = await openSqlSink(fixture.sqliteUrl(name));
    try {
      await rebuildReportingTables(rebuildDeps({ sink, eventStore: runtime.deps.eventStore, nc: runtime.deps.nc }));
      return await reportingSnapshot(sink);
    } finally {
      await sink.close();
    }
  };

  beforeAll(async () => {
    fixture = await startProjectionsFixture();
    runtime = await start();
    live = await openSqlSink(fixture.env.SQL_URL!);
  });
  afterAll(async () => {
    await live?.close();
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('projects a history of every kind of event, the same as a rebuild from the log', async () => {
    const written = await writeSyntheticHistory(runtime.deps.eventStore, runtime.deps.nc, { plants: ['P1', 'P2'], incidents: 24, prefix: 'A' });
    expect(written.events).toBeGreaterThan(300);
    const sources = await waitUntilCaughtUp(runtime.httpUrl);
    expect(sources.map((s) => s.source).sort()).toEqual(['events', 'telemetry']);
    expect(sources.find((s) => s.source === 'events')).toMatchObject({ behind: 0, skipped: 0, lastError: null });

    const snapshot = await reportingSnapshot(live);
    expect(rowCounts(snapshot)).toEqual({ MESData: 144, MaintenanceOrders: 48, Resources: 8, Approvals: 56 });
    expect(snapshot.MaintenanceOrders.find((r) => r.OrderID === 'MO_AP1_0')).toMatchObject({
      Status: 'Completed', DecidedBy: 'alice@plant1.example', TechnicianID: 'AP1-T-01', EquipmentID: 'AP1-EQ-01',
    });
    expect(new Set(snapshot.MaintenanceOrders.map((r) => r.Status))).toEqual(new Set(['Completed', 'Rejected', 'Expired', 'Cancelled', 'PendingApproval']));
    expect(new Set(snapshot.Approvals.map((r) => r.Status))).toEqual(new Set(['Approved', 'Rejected', 'Expired', 'Superseded', 'Pending']));
    expect(snapshot).toEqual(await reference('reference-1.sqlite'));
  });

  it('changes nothing when events are applied again at their positions', async () => {
    const before = await reportingSnapshot(live);
    const events = [];
    for await (const event of runtime.deps.eventStore.readAll({ plantId: 'P1' })) events.push(event);
    await live.write(events.flatMap((event) => projectEvent(event, LIVE_TABLES).ops));
    expect(await reportingSnapshot(live)).toEqual(before);
  });

  it('resumes from its checkpoint after a restart, and from an older one without a change', async () => {
    const before = await reportingSnapshot(live);
    await runtime.stop();
    // As if the last batches had been applied but their checkpoints lost: everything is read again.
    await live.write([{ kind: 'dropTable', name: CHECKPOINTS_TABLE.name }, { kind: 'createTable', table: CHECKPOINTS_TABLE }]);
    runtime = await start();
    await writeSyntheticHistory(runtime.deps.eventStore, runtime.deps.nc, { plants: ['P1'], incidents: 6, prefix: 'B' });
    await waitUntilCaughtUp(runtime.httpUrl);
    const after = await reportingSnapshot(live);
    expect(after.MaintenanceOrders.filter((r) => String(r.OrderID).startsWith('MO_A'))).toEqual(before.MaintenanceOrders);
    expect(rowCounts(after).MaintenanceOrders).toBe(before.MaintenanceOrders.length + 6);
    expect(after).toEqual(await reference('reference-2.sqlite'));
  });

  it('reports each source, its checkpoint, the end of its log and its lag behind a bearer token', async () => {
    expect((await fetch(`${runtime.httpUrl}/api/projections/status`)).status).toBe(401);
    const { sources } = await projectionStatus(runtime.httpUrl);
    for (const source of sources) {
      expect(source).toMatchObject({ upToDate: true, behind: 0, failingSince: null });
      expect(BigInt(source.checkpoint!)).toBeGreaterThanOrEqual(BigInt(source.end!));
    }
    const health = await fetch(`${runtime.httpUrl}/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', checks: { sql: { ok: true } } });
    const unknown = await fetch(`${runtime.httpUrl}/api/orders/MO_nope/audit`, { headers: { authorization: `Bearer ${TEST_API_TOKEN}` } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await unknown.json()).toEqual({ type: 'urn:mes:problem:order-not-found', title: 'No such maintenance order', status: 404, detail: 'no maintenance order MO_nope', code: 'ORDER_NOT_FOUND' });
  });

  describe('rebuild', () => {
    it('replaces the live tables with the same content, with progress reports', async () => {
      const before = await reportingSnapshot(live);
      const sink = await openSqlSink(fixture.env.SQL_URL!);
      const progress: RebuildProgress[] = [];
      try {
        const report = await rebuildReportingTables(rebuildDeps({ sink, eventStore: runtime.deps.eventStore, nc: runtime.deps.nc }), {
          batchSize: 100,
          onProgress: (p) => progress.push(p),
          progressEveryMs: 0,
        });
        expect(report.swapAttempts).toBe(1);
        expect(report.events.applied).toBeGreaterThan(300);
        expect(await sink.listTables()).toEqual(['Approvals', 'MESData', 'MaintenanceOrders', 'ProjectionCheckpoints', 'ProjectionPauses', 'Resources', 'SchemaMigrations']);
      } finally {
        await sink.close();
      }
      expect(new Set(progress.map((p) => p.phase))).toEqual(new Set(['copying', 'swapping', 'done']));
      const copied = progress.filter((p) => p.phase === 'copying' && p.source === 'events').at(-1)!;
      expect(copied.position).toBe(copied.end);
      expect(copied.rate).toBeGreaterThan(0);
      expect(await reportingSnapshot(live)).toEqual(before);
    });

    it('ends with the same tables as the log while events keep arriving and the live projection keeps running', async () => {
      let writing = true;
      let part = 0;
      const writer = (async () => {
        while (writing) {
          await writeSyntheticHistory(runtime.deps.eventStore, runtime.deps.nc, { plants: ['P1', 'P2'], incidents: 3, prefix: 'C', from: part * 3, registerResources: part === 0, concurrency: 2 });
          part++;
        }
      })();
      const sink = await openSqlSink(fixture.env.SQL_URL!);
      let partsDuringRebuild = 0;
      try {
        while (part === 0) await sleep(10);
        const partAtStart = part;
        // Small batches and a low bar for the swap, so writes race the rebuild the whole time.
        const report = await rebuildReportingTables(rebuildDeps({ sink, eventStore: runtime.deps.eventStore, nc: runtime.deps.nc }), { batchSize: 20, settleBelow: 5 });
        partsDuringRebuild = part - partAtStart;
        expect(report.events.applied).toBeGreaterThan(0);
      } finally {
        writing = false;
        await writer;
        await sink.close();
      }
      expect(partsDuringRebuild).toBeGreaterThan(0);
      await waitUntilCaughtUp(runtime.httpUrl);
      const after = await reportingSnapshot(live);
      expect(after.MaintenanceOrders.some((r) => String(r.OrderID).startsWith('MO_C'))).toBe(true);
      expect(after).toEqual(await reference('reference-3.sqlite'));
    });
  });
});
