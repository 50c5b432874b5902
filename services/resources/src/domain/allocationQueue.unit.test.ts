import { foldEvents } from '@mes/platform';
import { deciderSpecification } from '@mes/platform/testing';
import { describe, expect, it } from 'vitest';
import { allocationQueueDecider, missingKinds, waitingOrders, type FreeResource, type QueueEvent, type RequestResources } from './allocationQueue.js';

const T0 = '2026-11-25T10:00:00.000Z';
const T1 = '2026-11-25T10:01:00.000Z';
const T2 = '2026-11-25T10:02:00.000Z';
const NOW = '2026-11-25T11:00:00.000Z';
const spec = deciderSpecification(allocationQueueDecider);

const technician = (id: string): FreeResource => ({ resourceId: id, resourceType: 'Technician' });
const equipment = (id: string): FreeResource => ({ resourceId: id, resourceType: 'Equipment' });

const request = (orderId: string, approvedAt: string, free: FreeResource[] = []): RequestResources => ({
  type: 'RequestResources',
  orderId,
  plantId: 'P1',
  machineId: `M-${orderId}`,
  correlationId: `WF_${orderId}`,
  approvedAt,
  free,
  at: NOW,
});
const queued = (orderId: string, approvedAt: string): QueueEvent => ({
  type: 'OrderQueuedForResources',
  version: 1,
  data: { orderId, plantId: 'P1', machineId: `M-${orderId}`, approvedAt, correlationId: `WF_${orderId}` },
});
const reserved = (orderId: string, technicianId: string, equipmentId: string): QueueEvent => ({
  type: 'OrderResourcesReserved',
  version: 1,
  data: { orderId, technicianId, equipmentId, reservedAt: NOW },
});
const left = (orderId: string, technicianId: string | null = null, equipmentId: string | null = null): QueueEvent => ({
  type: 'OrderLeftResourceQueue',
  version: 1,
  data: { orderId, technicianId, equipmentId, leftAt: NOW },
});

describe('an order asking for resources', () => {
  it('is queued and reserved a technician and equipment when both are free', () => {
    spec.given([]).when(request('MO_1', T0, [technician('T-02'), technician('T-01'), equipment('EQ-01')])).then([queued('MO_1', T0), reserved('MO_1', 'T-01', 'EQ-01')]);
  });
  it('is queued and waits when a kind is missing, reserving nothing', () => {
    spec.given([]).when(request('MO_1', T0, [technician('T-01')])).then([queued('MO_1', T0)]);
    expect(missingKinds(foldEvents(allocationQueueDecider, [queued('MO_1', T0)]), [technician('T-01')])).toEqual(['Equipment']);
  });
  it('is queued once: asking again keeps its first approval time', () => {
    spec.given([queued('MO_1', T0)]).when(request('MO_1', T2)).then([]);
  });
  it('is ignored once it has left (a late redelivery)', () => {
    spec.given([queued('MO_1', T0), left('MO_1')]).when(request('MO_1', T0, [technician('T-01'), equipment('EQ-01')])).then([]);
  });
  it('does not jump the queue: the oldest waiting order is served first', () => {
    spec
      .given([queued('MO_old', T0)])
      .when(request('MO_new', T1, [technician('T-01'), equipment('EQ-01')]))
      .then([queued('MO_new', T1), reserved('MO_old', 'T-01', 'EQ-01')]);
  });
  it('never gets a resource reserved for an order that has not left', () => {
    spec
      .given([queued('MO_1', T0), reserved('MO_1', 'T-01', 'EQ-01')])
      .when(request('MO_2', T1, [technician('T-01'), equipment('EQ-01')]))
      .then([queued('MO_2', T1)]);
  });
});

describe('when several orders wait', () => {
  const given = [queued('MO_b', T1), queued('MO_c', T2), queued('MO_a', T0)];
  it('orders them by approval time, not arrival', () => {
    expect(waitingOrders(foldEvents(allocationQueueDecider, given)).map((o) => o.orderId)).toEqual(['MO_a', 'MO_b', 'MO_c']);
  });
  it('serves as many as there are pairs, oldest first', () => {
    spec
      .given(given)
      .when({ type: 'ServeWaitingOrders', free: [technician('T-01'), technician('T-02'), equipment('EQ-01'), equipment('EQ-02'), equipment('EQ-03')], at: NOW })
      .then([reserved('MO_a', 'T-01', 'EQ-01'), reserved('MO_b', 'T-02', 'EQ-02')]);
  });
  it('breaks a tie of approval times by arrival', () => {
    expect(waitingOrders(foldEvents(allocationQueueDecider, [queued('MO_y', T0), queued('MO_x', T0)])).map((o) => o.orderId)).toEqual(['MO_y', 'MO_x']);
  });
});

describe('when an order holding a reservation is released', () => {
  const given = [queued('MO_1', T0), reserved('MO_1', 'T-01', 'EQ-01'), queued('MO_3', T2), queued('MO_2', T1)];
  it('leaves the queue, and what it held goes to the oldest waiting order in the same decision', () => {
    spec
      .given(given)
      .when({ type: 'ReleaseOrder', orderId: 'MO_1', free: [technician('T-01'), equipment('EQ-01')], at: NOW })
      .then([left('MO_1', 'T-01', 'EQ-01'), reserved('MO_2', 'T-01', 'EQ-01')]);
  });
  it('changes nothing when released again', () => {
    spec.given([...given, left('MO_1', 'T-01', 'EQ-01')]).when({ type: 'ReleaseOrder', orderId: 'MO_1', free: [], at: NOW }).then([]);
  });
});

describe('when a waiting order or an unknown one is released', () => {
  it('takes a waiting order out of the queue', () => {
    spec.given([queued('MO_1', T0)]).when({ type: 'ReleaseOrder', orderId: 'MO_1', free: [], at: NOW }).then([left('MO_1')]);
    expect(waitingOrders(foldEvents(allocationQueueDecider, [queued('MO_1', T0), left('MO_1')]))).toEqual([]);
  });
  it('remembers an order released before it asked, so its late request is ignored', () => {
    spec.given([]).when({ type: 'ReleaseOrder', orderId: 'MO_9', free: [], at: NOW }).then([left('MO_9')]);
    spec.given([left('MO_9')]).when(request('MO_9', T0, [technician('T-01'), equipment('EQ-01')])).then([]);
  });
});

describe('confirming reservations', () => {
  it('confirms each reservation once', () => {
    const given = [queued('MO_1', T0), reserved('MO_1', 'T-01', 'EQ-01')];
    const confirmed: QueueEvent = { type: 'OrderResourcesConfirmed', version: 1, data: { orderId: 'MO_1', technicianId: 'T-01', equipmentId: 'EQ-01', confirmedAt: NOW } };
    spec.given(given).when({ type: 'ConfirmReservations', orderIds: ['MO_1', 'MO_1'], at: NOW }).then([confirmed]);
    spec.given([...given, confirmed]).when({ type: 'ConfirmReservations', orderIds: ['MO_1'], at: NOW }).then([]);
  });
  it('confirms nothing for an order that left meanwhile', () => {
    spec.given([queued('MO_1', T0), reserved('MO_1', 'T-01', 'EQ-01'), left('MO_1', 'T-01', 'EQ-01')]).when({ type: 'ConfirmReservations', orderIds: ['MO_1'], at: NOW }).then([]);
  });
});

describe('a resource withdrawn from allocation', () => {
  const withdrawn: QueueEvent = { type: 'ResourceWithdrawnFromAllocation', version: 1, data: { resourceId: 'T-01', at: NOW } };
  it('is withdrawn once', () => {
    spec.given([]).when({ type: 'WithdrawResource', resourceId: 'T-01', at: NOW }).then([withdrawn]);
    spec.given([withdrawn]).when({ type: 'WithdrawResource', resourceId: 'T-01', at: NOW }).then([]);
  });
  it('is never reserved, even when shown free', () => {
    spec.given([withdrawn, queued('MO_1', T0)]).when({ type: 'ServeWaitingOrders', free: [technician('T-01'), equipment('EQ-01')], at: NOW }).then([]);
  });
  it('serves waiting orders when it returns', () => {
    spec
      .given([withdrawn, queued('MO_1', T0)])
      .when({ type: 'ReturnResource', resourceId: 'T-01', free: [technician('T-01'), equipment('EQ-01')], at: NOW })
      .then([{ type: 'ResourceReturnedToAllocation', version: 1, data: { resourceId: 'T-01', at: NOW } }, reserved('MO_1', 'T-01', 'EQ-01')]);
  });
});
