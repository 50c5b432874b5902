import type { SqlOp } from '@mes/platform';
import { describe, expect, it } from 'vitest';
import { readingRowChanges, eventRowChanges } from '../domain/reportingRows.js';
import { toSqlOps } from './projectionWriter.js';
import { changeNoticesOf } from './changeNotices.js';
import { LIVE_TABLES } from './reportingSchema.js';

const reading = { plantId: 'P1', machineId: 'M-1', machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: '2026-01-01T00:00:00.000Z', timestampSource: 'device', receivedAt: '2026-01-01T00:00:00.000Z' } as const;

describe('change notices', () => {
  it('name the machine of a reading, the order, approval and resource of a row, once each, and the progress', () => {
    const ops: SqlOp[] = [
      ...toSqlOps(readingRowChanges('E1', reading), 1n, LIVE_TABLES),
      ...toSqlOps(readingRowChanges('E2', { ...reading, machineStatus: 'Running' }), 2n, LIVE_TABLES),
      ...toSqlOps(eventRowChanges({ type: 'MaintenanceOrderCompleted', version: 1, data: { orderId: 'MO_1', completedAt: '2026-01-01T00:00:00.000Z', completedBy: 'api' } }), 3n, LIVE_TABLES),
      ...toSqlOps(eventRowChanges({ type: 'ApprovalExpired', version: 1, data: { approvalId: 'AP_1', orderId: 'MO_1', expiredAt: '2026-01-01T00:00:00.000Z' } }), 4n, LIVE_TABLES),
      ...toSqlOps(eventRowChanges({ type: 'ResourceReleased', version: 1, data: { resourceId: 'T-01', orderId: 'MO_1', at: '2026-01-01T00:00:00.000Z' } }), 5n, LIVE_TABLES),
    ];
    expect(changeNoticesOf(ops)).toEqual([
      { topic: 'machines', plantId: 'P1', id: 'M-1' },
      { topic: 'orders', id: 'MO_1' },
      { topic: 'approvals', id: 'AP_1' },
      { topic: 'resources', id: 'T-01' },
      { topic: 'projections' },
    ]);
  });

  it('say only that the projections moved when a batch changed no row', () => {
    expect(changeNoticesOf([])).toEqual([{ topic: 'projections' }]);
  });
});
