import { describe, expect, it } from 'vitest';
import { orderSummaryOf } from './orderSummary.js';

const trigger = { machineStatus: 'Fault', qualityTrend: 'Stable', productionTarget: 100, productionActual: 40, timestamp: '2026-11-25T10:00:00.000Z' };
const opened = {
  type: 'MaintenanceOrderOpened',
  version: 1,
  data: { orderId: 'MO_1', plantId: 'P1', machineId: 'M-1', workflowId: 'wf-1', reason: 'Machine fault', trigger, openedAt: '2026-11-25T10:00:01.000Z' },
};
const decided = (type: string) => ({
  type,
  version: 1,
  data: { orderId: 'MO_1', approvalId: 'AP_1', decidedBy: 'alice@plant1.example', decidedAt: '2026-11-25T10:05:00.000Z' },
});

describe('orderSummaryOf', () => {
  it('is undefined for a stream without MaintenanceOrderOpened', () => {
    expect(orderSummaryOf([])).toBeUndefined();
    expect(orderSummaryOf([decided('MaintenanceOrderApproved')])).toBeUndefined();
  });

  it('takes the facts of the opening and awaits approval', () => {
    expect(orderSummaryOf([opened])).toEqual({
      orderId: 'MO_1',
      plantId: 'P1',
      machineId: 'M-1',
      reason: 'Machine fault',
      trigger,
      openedAt: '2026-11-25T10:00:01.000Z',
      status: 'PendingApproval',
    });
  });

  it('follows the status through later events', () => {
    expect(orderSummaryOf([opened, decided('MaintenanceOrderApproved')])?.status).toBe('Approved');
    expect(orderSummaryOf([opened, decided('MaintenanceOrderRejected')])?.status).toBe('Rejected');
    const cancelled = { type: 'MaintenanceOrderCancelled', version: 1, data: { orderId: 'MO_1', cancelledAt: '2026-11-25T11:00:00.000Z', cancelledBy: 'ops', reason: 'duplicate' } };
    expect(orderSummaryOf([opened, decided('MaintenanceOrderApproved'), cancelled])?.status).toBe('Cancelled');
  });

  it('skips events it cannot read instead of failing', () => {
    expect(orderSummaryOf([opened, { type: 'SomethingNew', version: 1, data: {} }, { type: 'MaintenanceOrderApproved', version: 9, data: {} }])?.status).toBe('PendingApproval');
  });
});
