import { describe, expect, it } from 'vitest';
import { configChanges, describeConfigChange } from './configChanges.js';

const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
const carol = { email: 'carol@plant1.example', name: 'Carol Diaz' };
const plant = {
  approvers: [alice, bob],
  approvalTimeout: 'PT30M',
  resources: [{ id: 'T-01', type: 'Technician', name: 'Dana Ruiz' }],
  rules: [{ when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'Machine fault' }],
};

describe('configChanges', () => {
  it('finds nothing between equal configurations, whatever the order of their keys', () => {
    const reordered = { rules: plant.rules, resources: plant.resources, approvalTimeout: 'PT30M', approvers: [{ name: 'Alice Novak', email: 'alice@plant1.example' }, bob] };
    expect(configChanges(plant, reordered)).toEqual([]);
  });

  it('names the deepest key path that changed, with the value before and after', () => {
    const next = { ...plant, approvers: [alice, { ...bob, email: 'bob.ito@plant1.example' }], approvalTimeout: 'PT15M' };
    expect(configChanges(plant, next)).toEqual([
      { path: 'approvers.1.email', before: 'bob@plant1.example', after: 'bob.ito@plant1.example' },
      { path: 'approvalTimeout', before: 'PT30M', after: 'PT15M' },
    ]);
  });

  it('compares lists by position: a new approver first shifts the escalation order', () => {
    expect(configChanges(plant, { ...plant, approvers: [carol, alice, bob] })).toEqual([
      { path: 'approvers.0.email', before: alice.email, after: carol.email },
      { path: 'approvers.0.name', before: alice.name, after: carol.name },
      { path: 'approvers.1.email', before: bob.email, after: alice.email },
      { path: 'approvers.1.name', before: bob.name, after: alice.name },
      { path: 'approvers.2', after: bob },
    ]);
  });

  it('reports keys added and removed', () => {
    const { resources: _removed, ...withoutResources } = plant;
    expect(configChanges(plant, { ...withoutResources, resources: [], machines: ['M-1'] })).toEqual([
      { path: 'resources.0', before: plant.resources[0] },
      { path: 'machines', after: ['M-1'] },
    ]);
  });

  it('lists every key as added for a first version', () => {
    expect(configChanges(null, plant).map((change) => [change.path, 'before' in change, change.after])).toEqual([
      ['approvers', false, plant.approvers],
      ['approvalTimeout', false, 'PT30M'],
      ['resources', false, plant.resources],
      ['rules', false, plant.rules],
    ]);
  });
});

describe('describeConfigChange', () => {
  it('says what became what, in one line', () => {
    expect(describeConfigChange({ path: 'approvalTimeout', before: 'PT30M', after: 'PT15M' })).toBe('approvalTimeout: "PT30M" -> "PT15M"');
    expect(describeConfigChange({ path: 'approvers.2', after: carol })).toBe('approvers.2: added {"email":"carol@plant1.example","name":"Carol Diaz"}');
    expect(describeConfigChange({ path: 'machines', before: ['M-1'] })).toBe('machines: removed (was ["M-1"])');
  });
});
