import { deciderSpecification } from '@mes/platform/testing';
import { describe, expect, it } from 'vitest';
import { resourceDecider, resourceStatus, type ResourceEvent } from './resource.js';
import { foldEvents } from '@mes/platform';

const AT = '2026-11-25T10:00:00.000Z';
const LATER = '2026-11-25T11:00:00.000Z';
const spec = deciderSpecification(resourceDecider);

const registered: ResourceEvent = {
  type: 'ResourceRegistered',
  version: 1,
  data: { resourceId: 'T-01', plantId: 'P1', resourceType: 'Technician', name: 'Dana Ruiz', registeredAt: AT },
};
const allocatedTo = (orderId: string): ResourceEvent => ({ type: 'ResourceAllocated', version: 1, data: { resourceId: 'T-01', orderId, at: AT } });
const releasedBy = (orderId: string): ResourceEvent => ({ type: 'ResourceReleased', version: 1, data: { resourceId: 'T-01', orderId, at: LATER } });
const markedUnavailable: ResourceEvent = {
  type: 'ResourceMarkedUnavailable',
  version: 1,
  data: { resourceId: 'T-01', reason: 'left out of the plant configuration', at: LATER },
};

const register = { type: 'RegisterResource', resourceId: 'T-01', plantId: 'P1', resourceType: 'Technician', name: 'Dana Ruiz', at: LATER } as const;
const allocate = (orderId: string) => ({ type: 'AllocateResource', resourceId: 'T-01', orderId, at: LATER }) as const;
const release = (orderId: string) => ({ type: 'ReleaseResource', resourceId: 'T-01', orderId, at: LATER }) as const;
const markUnavailable = { type: 'MarkResourceUnavailable', resourceId: 'T-01', reason: 'left out of the plant configuration', at: LATER } as const;

describe('a resource not registered yet', () => {
  it('is registered', () => {
    spec.given([]).when({ ...register, at: AT }).then([registered]);
  });
  it('refuses an allocation', () => {
    spec.given([]).when(allocate('MO_1')).thenThrows('RESOURCE_NOT_REGISTERED');
  });
});

describe('when the resource is available', () => {
  it('changes nothing when registered again with the same data', () => {
    spec.given([registered]).when(register).then([]);
  });
  it('records new data when registered again with a new name', () => {
    spec
      .given([registered])
      .when({ ...register, name: 'Dana Ruiz-Ito' })
      .then([{ type: 'ResourceRegistered', version: 1, data: { resourceId: 'T-01', plantId: 'P1', resourceType: 'Technician', name: 'Dana Ruiz-Ito', registeredAt: LATER } }]);
  });
  it('is allocated to an order', () => {
    spec.given([registered]).when(allocate('MO_1')).then([{ type: 'ResourceAllocated', version: 1, data: { resourceId: 'T-01', orderId: 'MO_1', at: LATER } }]);
  });
  it('is marked unavailable', () => {
    spec.given([registered]).when(markUnavailable).then([markedUnavailable]);
  });
  it('changes nothing on a release (a retried one)', () => {
    spec.given([registered, allocatedTo('MO_1'), releasedBy('MO_1')]).when(release('MO_1')).then([]);
  });
  it('is allocated again after its holder released it', () => {
    spec.given([registered, allocatedTo('MO_1'), releasedBy('MO_1')]).when(allocate('MO_2')).then([{ type: 'ResourceAllocated', version: 1, data: { resourceId: 'T-01', orderId: 'MO_2', at: LATER } }]);
  });
});

describe('when the resource is allocated', () => {
  const given = [registered, allocatedTo('MO_1')];
  it('refuses another order, naming the resource and its holder', () => {
    spec.given(given).when(allocate('MO_2')).thenThrows('RESOURCE_ALREADY_ALLOCATED');
    expect(() => resourceDecider.decide(allocate('MO_2'), foldEvents(resourceDecider, given))).toThrow(/T-01 is allocated to order MO_1/);
  });
  it('changes nothing when the same order asks again', () => {
    spec.given(given).when(allocate('MO_1')).then([]);
  });
  it('is released by its holder', () => {
    spec.given(given).when(release('MO_1')).then([releasedBy('MO_1')]);
  });
  it('refuses a release by another order', () => {
    spec.given(given).when(release('MO_2')).thenThrows('RESOURCE_NOT_HELD');
  });
  it('is marked unavailable but stays with its order until released, then is Unavailable', () => {
    spec.given(given).when(markUnavailable).then([markedUnavailable]);
    const marked = foldEvents(resourceDecider, [...given, markedUnavailable])!;
    expect(resourceStatus(marked)).toBe('Allocated');
    expect(marked.holder).toBe('MO_1');
    spec.given([...given, markedUnavailable]).when(release('MO_1')).then([releasedBy('MO_1')]);
    expect(resourceStatus(foldEvents(resourceDecider, [...given, markedUnavailable, releasedBy('MO_1')])!)).toBe('Unavailable');
  });
});

describe('when the resource is unavailable', () => {
  const given = [registered, markedUnavailable];
  it('refuses an allocation', () => {
    spec.given(given).when(allocate('MO_1')).thenThrows('RESOURCE_UNAVAILABLE');
  });
  it('changes nothing when marked unavailable again', () => {
    spec.given(given).when(markUnavailable).then([]);
  });
  it('becomes available again when registered again (back in the configuration)', () => {
    spec.given(given).when(register).then([{ type: 'ResourceMarkedAvailable', version: 1, data: { resourceId: 'T-01', at: LATER } }]);
    expect(resourceStatus(foldEvents(resourceDecider, [...given, { type: 'ResourceMarkedAvailable', version: 1, data: { resourceId: 'T-01', at: LATER } }])!)).toBe('Available');
  });
});
