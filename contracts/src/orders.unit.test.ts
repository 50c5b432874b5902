import { describe, expect, it } from 'vitest';
import { FINAL_ORDER_STATUSES, isOrderStatus, ORDER_STATUSES, orderIdForWorkflow } from './orders.js';

describe('orderIdForWorkflow', () => {
  it('names a workflow\'s order after the workflow: MO_ and its id without WF_', () => {
    expect(orderIdForWorkflow('WF_3f2a9c')).toBe('MO_3f2a9c');
    expect(orderIdForWorkflow('incident-7')).toBe('MO_incident-7');
  });

  it('gives the same id for the same workflow every time', () => {
    expect(orderIdForWorkflow('WF_P1_M-07_20261125T100000')).toBe(orderIdForWorkflow('WF_P1_M-07_20261125T100000'));
  });

  it('fits every workflow id into 64 identifier characters without collisions', () => {
    const ids = ['a'.repeat(60), 'a'.repeat(61), 'a'.repeat(64), `${'a'.repeat(63)}b`, 'x', '_-_', 'WF_', `WF_${'b'.repeat(61)}`];
    const orderIds = ids.map(orderIdForWorkflow);
    for (const orderId of orderIds) expect(orderId).toMatch(/^MO_[A-Za-z0-9_-]{1,61}$/);
    expect(new Set(orderIds).size).toBe(ids.length);
    expect(orderIdForWorkflow('a'.repeat(60))).toHaveLength(63);
    expect(orderIdForWorkflow('a'.repeat(61))).toHaveLength(64);
  });

  it.each(['', 'WF.1', 'WF 1', 'a'.repeat(65)])('refuses %j, which is not a workflow id', (workflowId) => {
    expect(() => orderIdForWorkflow(workflowId)).toThrow(expect.objectContaining({ code: 'INVALID_WORKFLOW_ID' }));
  });
});

describe('order statuses', () => {
  it('are the Status values of CONTRACT §2, four of them final', () => {
    expect(ORDER_STATUSES).toEqual(['PendingApproval', 'Approved', 'Rejected', 'Expired', 'AwaitingResources', 'ResourcesAllocated', 'Completed', 'Cancelled']);
    expect(FINAL_ORDER_STATUSES).toEqual(['Rejected', 'Expired', 'Completed', 'Cancelled']);
    expect(isOrderStatus('Cancelled')).toBe(true);
    expect(isOrderStatus('Done')).toBe(false);
  });
});
