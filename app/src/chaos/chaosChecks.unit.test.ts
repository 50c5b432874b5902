import type { RecordedEvent } from '@mes/platform';
import { describe, expect, it } from 'vitest';
import { checkAcknowledgedReadings, checkNoResourceInTwoOpenOrders, checkOneMessageIdPerRequest, checkOneOrderPerIncident, checkOrdersSettled, checkTablesEqualRebuild } from './chaosChecks.js';
import type { SentReading } from './incidentGenerator.js';
import { parsePlantConfigText } from '@mes/platform';
import { CHAOS_PLANTS_YAML } from './chaosPlants.js';

const plants = parsePlantConfigText(CHAOS_PLANTS_YAML, 'chaos plants');
let position = 0n;
const event = (type: string, stream: string, data: Record<string, unknown>): RecordedEvent =>
  ({ type, stream, data, position: ++position, eventId: `e${position}`, version: 1, occurredAt: '2026-01-01T00:00:00.000Z', correlationId: 'c', causationId: null, actor: { kind: 'service', id: 'test' } }) as unknown as RecordedEvent;
const reading = (machineStatus: string) => ({ plantId: 'P1', machineId: 'M-1', machineStatus, qualityTrend: 'Stable', productionTarget: 100, productionActual: 97, timestamp: '2026-01-01T00:00:00.000Z' });
const sent = (overrides: Partial<SentReading> = {}): SentReading => ({ plantId: 'P1', machineId: 'M-1', messageId: 'm', machineStatus: 'Fault', timestamp: '2026-01-01T00:00:01.000Z', acknowledged: true, ...overrides });
const row = (timestamp: string) => ({ PlantID: 'P1', ID: 'M-1', Timestamp: timestamp });

describe('chaos checks', () => {
  describe('acknowledged readings', () => {
    it('hold when each is one MESData row', () => {
      expect(checkAcknowledgedReadings([sent()], [row('2026-01-01T00:00:01.000Z')])).toMatchObject({ ok: true, inMesData: 1 });
    });
    it('fail for a missing and a doubled reading, not for an unacknowledged one', () => {
      const result = checkAcknowledgedReadings(
        [sent(), sent({ timestamp: '2026-01-01T00:00:02.000Z' }), sent({ timestamp: '2026-01-01T00:00:03.000Z', acknowledged: false })],
        [row('2026-01-01T00:00:02.000Z'), row('2026-01-01T00:00:02.000Z')],
      );
      expect(result.ok).toBe(false);
      expect(result.detail).toMatch(/^missing 1: M-1 Fault at 2026-01-01T00:00:01.000Z; more than once 1: M-1 at 2026-01-01T00:00:02.000Z \(2 rows\)/);
    });
  });

  describe('one order per incident', () => {
    const change = (machineStatus: string) => event('MachineStatusChanged', 'P1.machine.M-1', { plantId: 'P1', machineId: 'M-1', reading: reading(machineStatus) });
    const opened = (orderId: string) => event('MaintenanceOrderOpened', `P1.order.${orderId}`, { plantId: 'P1', machineId: 'M-1', orderId });
    it('holds for one fault and one order, a Running change counting for nothing', () => {
      expect(checkOneOrderPerIncident([change('Running'), change('Fault'), opened('MO_1')], plants)).toMatchObject({ ok: true, orders: 1, maintenanceChanges: 1 });
    });
    it('fails for a second order, and for a fault reported twice', () => {
      expect(checkOneOrderPerIncident([change('Fault'), opened('MO_1'), opened('MO_2')], plants).ok).toBe(false);
      expect(checkOneOrderPerIncident([change('Fault'), change('Fault'), opened('MO_1')], plants).ok).toBe(false);
      expect(checkOneOrderPerIncident([change('Running'), opened('MO_1')], plants).ok).toBe(false);
    });
  });

  it('fail for an approval request whose resend has another Message-ID', () => {
    expect(checkOneMessageIdPerRequest([{ approvalId: 'AP_1', messageId: '<a@x>' }, { approvalId: 'AP_1', messageId: '<a@x>' }])).toMatchObject({ ok: true, requests: 1 });
    expect(checkOneMessageIdPerRequest([{ approvalId: 'AP_1', messageId: '<a@x>' }, { approvalId: 'AP_1', messageId: '<b@x>' }]).ok).toBe(false);
  });

  describe('resources', () => {
    const allocated = (orderId: string) => event('ResourceAllocated', 'P1.resource.T-01', { resourceId: 'T-01', orderId });
    it('hold when the next order gets a resource after the holder ended', () => {
      expect(checkNoResourceInTwoOpenOrders([allocated('MO_1'), event('MaintenanceOrderCompleted', 'P1.order.MO_1', { orderId: 'MO_1' }), allocated('MO_2')]).ok).toBe(true);
    });
    it('fail when a resource goes to a second order while the first is open', () => {
      expect(checkNoResourceInTwoOpenOrders([allocated('MO_1'), allocated('MO_2')]).ok).toBe(false);
    });
  });

  it('count an order stuck before its decision as not settled', () => {
    expect(checkOrdersSettled([{ OrderID: 'MO_1', Status: 'Completed' }, { OrderID: 'MO_2', Status: 'AwaitingResources' }]).ok).toBe(true);
    expect(checkOrdersSettled([{ OrderID: 'MO_1', Status: 'PendingApproval' }]).ok).toBe(false);
  });

  it('compare the live tables with a rebuild row for row', () => {
    expect(checkTablesEqualRebuild({ MESData: [{ EventID: 'a', LastPosition: 1n }] }, { MESData: [{ EventID: 'a', LastPosition: 1n }] }).ok).toBe(true);
    expect(checkTablesEqualRebuild({ MESData: [{ EventID: 'a' }] }, { MESData: [{ EventID: 'b' }] }).ok).toBe(false);
    expect(checkTablesEqualRebuild({ MESData: [{ EventID: 'a' }] }, { MESData: [] }).ok).toBe(false);
  });
});
