// The Approvals table's signature columns (CONTRACT §2: ApproverName, Meaning) on real SQLite files,
// fed by the projections service from a real nats-server: decisions stored before and after
// ApprovalDecided carried its signature, a database made before the columns existed, and a rebuild.
import { streamName, type Actor } from '@mes/contracts';
import { openSqlSink, tablesAfterMigrations, type NewEvent, type Runtime, type SqlSink } from '@mes/platform';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildDeps } from '../adapters/rebuildSources.js';
import { startProjectionsFixture, startProjectionsRuntime, waitUntilCaughtUp, type ProjectionsFixture } from '../testing/projectionsFixture.js';
import { checkpointOp } from './projectionWriter.js';
import { rebuildReportingTables } from './rebuildReportingTables.js';
import { LIVE_TABLES, REPORTING_MIGRATIONS } from './reportingSchema.js';
import { createProjectionsService } from './startProjections.js';

const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
const T0 = '2026-11-29T21:00:00.000Z';
const T1 = '2026-11-29T21:04:05.000Z';
const T2 = '2026-11-29T22:00:00.000Z';
const approvalsActor: Actor = { kind: 'service', id: 'approvals' };

function event(type: string, version: number, data: Record<string, unknown>, actor: Actor = approvalsActor): NewEvent {
  return { eventId: randomUUID(), type, version, occurredAt: T1, correlationId: 'wf-test', causationId: null, actor, data };
}

/** A request and its decision as a build before signatures stored them (ApprovalRequested v2, ApprovalDecided v1). */
function storedBeforeSignatures(orderId: string, approvalId: string, decision: 'approved' | 'rejected'): NewEvent[] {
  return [
    event('ApprovalRequested', 2, { approvalId, orderId, plantId: 'P1', machineId: 'M-1', approver: alice, level: 0, requestedAt: T0, decideBy: T2 }),
    event('ApprovalDecided', 1, { approvalId, orderId, decision, approver: alice, decidedAt: T1, clientAddress: '127.0.0.1', userAgent: 'ua' }, { kind: 'person', id: alice.email, name: alice.name }),
  ];
}

/** A request and its decision as this build stores them. */
function storedWithSignature(orderId: string, approvalId: string): NewEvent[] {
  return [
    event('ApprovalRequested', 3, { approvalId, orderId, plantId: 'P1', machineId: 'M-9', approver: bob, level: 0, requestedAt: T0, decideBy: T2, signatureMethod: 'link+pin' }),
    event(
      'ApprovalDecided',
      2,
      {
        approvalId,
        orderId,
        decision: 'rejected',
        approver: bob,
        decidedAt: T1,
        comment: 'not before the shift change',
        clientAddress: '127.0.0.1',
        userAgent: 'ua',
        signature: { printedName: bob.name, email: bob.email, signedAt: T1, meaning: `Rejected maintenance order ${orderId} for machine M-9`, method: 'link+pin' },
      },
      { kind: 'person', id: bob.email, name: bob.name },
    ),
  ];
}

describe('the Approvals table\'s signature columns', () => {
  let fixture: ProjectionsFixture;
  let runtime: Runtime | undefined;
  let live: SqlSink | undefined;

  beforeAll(async () => {
    fixture = await startProjectionsFixture();
  });
  afterAll(async () => {
    await live?.close();
    await runtime?.stop();
    await fixture?.dispose();
  });

  it('a database made before them gains both columns, NULL in its existing rows, and a rebuild fills them from the log', async () => {
    const sqlUrl = fixture.sqliteUrl('before-signatures.sqlite');
    // The log and the database as the build before the columns left them: the decision projected,
    // and the checkpoint past it.
    const { eventStore, stop } = await (async () => {
      const bootstrap = await startProjectionsRuntime(fixture, {}, { SQL_URL: sqlUrl });
      return { eventStore: bootstrap.deps.eventStore, stop: () => bootstrap.stop() };
    })();
    const appended = await eventStore.appendToStream(streamName('P1', 'approval', 'MO_OLD'), storedBeforeSignatures('MO_OLD', 'AP_OLD', 'approved'), { expectedRevision: 'no_stream' });
    await stop();
    const before = await openSqlSink(sqlUrl);
    try {
      expect(await before.migrate(REPORTING_MIGRATIONS.slice(0, 1))).toEqual([1]);
      const oldApprovals = tablesAfterMigrations(REPORTING_MIGRATIONS.slice(0, 1)).get('Approvals')!;
      expect(oldApprovals.columns.map((column) => column.name)).not.toContain('Meaning');
      await before.write([
        {
          kind: 'upsert',
          table: oldApprovals,
          key: { ApprovalID: 'AP_OLD' },
          values: { OrderID: 'MO_OLD', Approver: alice.email, Status: 'Approved', RequestedAt: T0, DecidedAt: T1, Comment: null },
          position: appended.position,
        },
        checkpointOp('events', appended.position, new Date(T1)),
      ]);
    } finally {
      await before.close();
    }

    runtime = await startProjectionsRuntime(fixture, { projections: createProjectionsService({ batchSize: 10 }) }, { SQL_URL: sqlUrl });
    live = await openSqlSink(sqlUrl);
    expect((await live.appliedMigrations()).map((migration) => migration.version)).toEqual([1, 2]);
    await waitUntilCaughtUp(runtime.httpUrl);
    expect(await live.select(LIVE_TABLES.Approvals, { where: { ApprovalID: 'AP_OLD' } })).toEqual([
      expect.objectContaining({ ApprovalID: 'AP_OLD', Status: 'Approved', DecidedAt: T1, ApproverName: null, Meaning: null }),
    ]);

    await rebuildReportingTables(rebuildDeps({ sink: live, eventStore: runtime.deps.eventStore, nc: runtime.deps.nc }));
    expect(await live.select(LIVE_TABLES.Approvals, { where: { ApprovalID: 'AP_OLD' } })).toEqual([
      expect.objectContaining({ ApprovalID: 'AP_OLD', Status: 'Approved', ApproverName: 'Alice Novak', Meaning: 'Approved maintenance order MO_OLD' }),
    ]);
  });

  it('shows the printed name and meaning of every decision as it arrives, derived for old decisions, NULL until decided', async () => {
    if (runtime === undefined || live === undefined) throw new Error('the previous test starts the service');
    const store = runtime.deps.eventStore;
    await store.appendToStream(streamName('P1', 'approval', 'MO_V1'), storedBeforeSignatures('MO_V1', 'AP_V1', 'rejected'), { expectedRevision: 'no_stream' });
    await store.appendToStream(streamName('P1', 'approval', 'MO_V2'), storedWithSignature('MO_V2', 'AP_V2'), { expectedRevision: 'no_stream' });
    await store.appendToStream(
      streamName('P1', 'approval', 'MO_PENDING'),
      [event('ApprovalRequested', 3, { approvalId: 'AP_PENDING', orderId: 'MO_PENDING', plantId: 'P1', machineId: 'M-2', approver: alice, level: 0, requestedAt: T0, decideBy: T2, signatureMethod: 'link' })],
      { expectedRevision: 'no_stream' },
    );
    await waitUntilCaughtUp(runtime.httpUrl);

    const rows = await live.select(LIVE_TABLES.Approvals, { orderBy: ['ApprovalID'] });
    const byId = (id: string) => rows.find((row) => row.ApprovalID === id);
    expect(byId('AP_V1')).toMatchObject({ Status: 'Rejected', Approver: alice.email, ApproverName: 'Alice Novak', Meaning: 'Rejected maintenance order MO_V1' });
    expect(byId('AP_V2')).toMatchObject({
      Status: 'Rejected',
      Approver: bob.email,
      ApproverName: 'Bob Ito',
      Meaning: 'Rejected maintenance order MO_V2 for machine M-9',
      Comment: 'not before the shift change',
    });
    expect(byId('AP_PENDING')).toMatchObject({ Status: 'Pending', ApproverName: 'Alice Novak', Meaning: null, DecidedAt: null });

    // A rebuild into a database of its own ends with the same rows.
    const reference = await openSqlSink(fixture.sqliteUrl('reference.sqlite'));
    try {
      await rebuildReportingTables(rebuildDeps({ sink: reference, eventStore: store, nc: runtime.deps.nc }));
      expect(await reference.select(LIVE_TABLES.Approvals, { orderBy: ['ApprovalID'] })).toEqual(rows);
    } finally {
      await reference.close();
    }
  });
});
