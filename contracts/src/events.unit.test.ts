import { describe, expect, it } from 'vitest';
import { CommandSchema } from './commands.js';
import { EventEnvelopeSchema } from './envelope.js';
import { approvalSignatureMeaning, CURRENT_EVENT_VERSIONS, DOMAIN_EVENT_TYPES, DomainEventSchema, EventDecodeError, parseDomainEvent, plantConfigOf, readingSummaryOf } from './events.js';
import type { DomainEventData, DomainEventType } from './events.js';
import type { TelemetryReading } from './telemetry.js';

const AT = '2026-11-25T10:00:00.000Z';
const LATER = '2026-11-25T10:30:00.000Z';
const reading: TelemetryReading = {
  plantId: 'P1',
  machineId: 'M-07',
  machineStatus: 'Fault',
  qualityTrend: 'Stable',
  productionTarget: 100,
  productionActual: 40,
  timestamp: AT,
  timestampSource: 'device',
  messageId: 'msg-1',
  receivedAt: AT,
};
const summary = readingSummaryOf(reading);
const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };

const examples: { [Type in DomainEventType]: DomainEventData<Type> } = {
  MachineReadingRecorded: reading,
  MachineStatusChanged: {
    plantId: 'P1',
    machineId: 'M-07',
    previous: null,
    current: { machineStatus: 'Fault', qualityTrend: 'Stable', productionBand: 'below50' },
    reading,
  },
  MaintenanceOrderOpened: { orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', workflowId: 'WF_1', reason: 'Machine fault', trigger: summary, openedAt: AT },
  MaintenanceOrderApprovalRequested: { orderId: 'MO_1', approvalId: 'AP_1', approver: alice, level: 0, requestedAt: AT },
  MaintenanceOrderApproved: { orderId: 'MO_1', approvalId: 'AP_1', decidedBy: alice.email, decidedByName: alice.name, decidedAt: LATER, comment: 'go' },
  MaintenanceOrderRejected: { orderId: 'MO_1', approvalId: 'AP_1', decidedBy: alice.email, decidedAt: LATER },
  MaintenanceOrderExpired: { orderId: 'MO_1', expiredAt: LATER },
  MaintenanceOrderAwaitingResources: { orderId: 'MO_1', since: LATER, missing: ['Technician'] },
  MaintenanceOrderResourcesAllocated: { orderId: 'MO_1', technicianId: 'T-01', equipmentId: 'EQ-01', allocatedAt: LATER },
  MaintenanceOrderCompleted: { orderId: 'MO_1', completedAt: LATER, completedBy: 'operator' },
  MaintenanceOrderCancelled: { orderId: 'MO_1', cancelledAt: LATER, cancelledBy: 'operator', reason: 'False alarm' },
  ApprovalRequested: { approvalId: 'AP_1', orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approver: alice, level: 0, requestedAt: AT, decideBy: LATER, signatureMethod: 'link' },
  ApprovalEmailSent: { approvalId: 'AP_1', to: alice.email, messageId: '<abc@mes>', sentAt: AT },
  ApprovalDecided: {
    approvalId: 'AP_1',
    orderId: 'MO_1',
    decision: 'approved',
    approver: alice,
    decidedAt: LATER,
    comment: 'ok',
    clientAddress: '10.0.0.5',
    userAgent: 'Mozilla/5.0',
    signature: { printedName: alice.name, email: alice.email, signedAt: LATER, meaning: 'Approved maintenance order MO_1 for machine M-07', method: 'link+pin' },
  },
  ApprovalSignatureFailed: {
    approvalId: 'AP_1',
    orderId: 'MO_1',
    approver: alice,
    decision: 'approved',
    reason: 'wrong_pin',
    consecutiveWrongPins: 2,
    failedAt: LATER,
    clientAddress: '10.0.0.5',
    userAgent: 'Mozilla/5.0',
  },
  ApproverSigningLocked: { approvalId: 'AP_1', orderId: 'MO_1', approver: alice, wrongPins: 5, lockedAt: AT, lockedUntil: LATER },
  ApprovalEscalated: { approvalId: 'AP_1', orderId: 'MO_1', nextApprover: bob, level: 1, escalatedAt: LATER },
  ApprovalExpired: { approvalId: 'AP_2', orderId: 'MO_1', expiredAt: LATER },
  ApprovalWithdrawn: { approvalId: 'AP_2', orderId: 'MO_1', reason: 'order cancelled', withdrawnAt: LATER },
  ResourceRegistered: { resourceId: 'T-01', plantId: 'P1', resourceType: 'Technician', name: 'Dana Ruiz', registeredAt: AT },
  ResourceMarkedUnavailable: { resourceId: 'T-01', reason: 'On leave', at: AT },
  ResourceAllocated: { resourceId: 'T-01', orderId: 'MO_1', at: AT },
  ResourceReleased: { resourceId: 'T-01', orderId: 'MO_1', at: LATER },
  ResourceMarkedAvailable: { resourceId: 'T-01', at: LATER },
  OrderQueuedForResources: { orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approvedAt: AT, correlationId: 'WF_1' },
  OrderResourcesReserved: { orderId: 'MO_1', technicianId: 'T-01', equipmentId: 'EQ-01', reservedAt: LATER },
  OrderResourcesConfirmed: { orderId: 'MO_1', technicianId: 'T-01', equipmentId: 'EQ-01', confirmedAt: LATER },
  OrderLeftResourceQueue: { orderId: 'MO_1', technicianId: null, equipmentId: null, leftAt: LATER },
  ResourceWithdrawnFromAllocation: { resourceId: 'T-01', at: LATER },
  ResourceReturnedToAllocation: { resourceId: 'T-01', at: LATER },
  WorkflowStarted: {
    workflowId: 'WF_1', plantId: 'P1', machineId: 'M-07', ruleIndex: 0, reason: 'Machine fault', triggeredBy: summary, startedAt: AT,
    configVersion: 3, policy: { approvers: [alice, bob], approvalTimeoutMs: 1_800_000 },
  },
  WorkflowStepRecorded: { workflowId: 'WF_1', step: 'approvalRequested', at: AT, detail: 'sent to alice@plant1.example' },
  WorkflowTimeoutScheduled: { workflowId: 'WF_1', timeoutId: 'TO_1', dueAt: LATER, purpose: 'approvalTimeout' },
  WorkflowCompleted: { workflowId: 'WF_1', outcome: 'Completed', at: LATER },
  PlantConfigVersionRecorded: {
    plantId: 'P1',
    version: 2,
    config: {
      approvers: [alice, bob],
      approvalTimeout: 'PT30M',
      resources: [{ id: 'T-01', type: 'Technician', name: 'Dana Ruiz' }],
      rules: [{ when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'Machine fault' }],
    },
    changes: [{ path: 'approvalTimeout', before: 'PT1H', after: 'PT30M' }, { path: 'approvers.1', after: bob }],
    source: '/etc/mes/plants.yaml',
    via: 'mes config reload',
    recordedAt: AT,
  },
};

describe('parseDomainEvent', () => {
  it('knows every event type of the union', () => {
    expect([...DOMAIN_EVENT_TYPES].sort()).toEqual(DomainEventSchema.options.map((option) => option.shape.type.value).sort());
  });

  it.each(DOMAIN_EVENT_TYPES.map((type) => [type]))('parses a valid %s of its current version', (type) => {
    const data = examples[type];
    const version = CURRENT_EVENT_VERSIONS[type];
    const parsed = parseDomainEvent(type, version, data);
    expect(parsed).toEqual({ type, version, data });
    expect(DomainEventSchema.parse(parsed)).toEqual(parsed);
  });

  describe('an event stored before a schema change', () => {
    // ApprovalRequested v1, as the builds before version 2 stored it: the decide-by time was `expiresAt`.
    const storedV1 = { approvalId: 'AP_1', orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approver: alice, level: 0, requestedAt: AT, expiresAt: LATER };
    // ApprovalRequested v2, as the builds before version 3 stored it: no signature method.
    const storedV2 = { approvalId: 'AP_1', orderId: 'MO_1', plantId: 'P1', machineId: 'M-07', approver: alice, level: 0, requestedAt: AT, decideBy: LATER };

    it('loads as the current version, its data upcast', () => {
      expect(CURRENT_EVENT_VERSIONS.ApprovalRequested).toBe(3);
      const parsed = parseDomainEvent('ApprovalRequested', 1, storedV1);
      expect(parsed).toEqual({ type: 'ApprovalRequested', version: 3, data: examples.ApprovalRequested });
      expect(DomainEventSchema.parse(parsed)).toEqual(parsed);
    });

    it('reads a request made before version 3 as one signed with the link alone', () => {
      expect(parseDomainEvent('ApprovalRequested', 2, storedV2)).toEqual({ type: 'ApprovalRequested', version: 3, data: { ...storedV2, signatureMethod: 'link' } });
      // A version 2 event never carried the field; one that did is still read as version 2 says.
      expect(parseDomainEvent('ApprovalRequested', 2, { ...storedV2, signatureMethod: 'link+pin' }).data).toMatchObject({ signatureMethod: 'link' });
    });

    describe('ApprovalDecided v1, stored before decisions carried their signature', () => {
      const decidedV1 = {
        approvalId: 'AP_1',
        orderId: 'MO_1',
        decision: 'rejected',
        approver: alice,
        decidedAt: LATER,
        comment: 'not now',
        clientAddress: '10.0.0.5',
        userAgent: 'Mozilla/5.0',
      } as const;

      it('gets the signature derived from the decision: the approver, the time, the link alone, and a meaning without the machine', () => {
        expect(CURRENT_EVENT_VERSIONS.ApprovalDecided).toBe(2);
        const parsed = parseDomainEvent('ApprovalDecided', 1, decidedV1);
        expect(parsed).toEqual({
          type: 'ApprovalDecided',
          version: 2,
          data: {
            ...decidedV1,
            signature: { printedName: 'Alice Novak', email: 'alice@plant1.example', signedAt: LATER, meaning: 'Rejected maintenance order MO_1', method: 'link' },
          },
        });
        expect(DomainEventSchema.parse(parsed)).toEqual(parsed);
        expect(parseDomainEvent('ApprovalDecided', 1, { ...decidedV1, decision: 'approved' }).data).toMatchObject({ signature: { meaning: 'Approved maintenance order MO_1' } });
      });

      it('is refused when it is not a valid version 1 decision', () => {
        const { approver: _dropped, ...withoutApprover } = decidedV1;
        expect(() => parseDomainEvent('ApprovalDecided', 1, withoutApprover)).toThrow(/ApprovalDecided v1 data is invalid: approver: .*expected object/);
      });

      it('a version 2 decision must carry its signature', () => {
        expect(() => parseDomainEvent('ApprovalDecided', 2, decidedV1)).toThrow(/ApprovalDecided v2 data is invalid: signature: .*expected object/);
      });
    });

    it('reads a workflow started before configuration versions as of an unknown version', () => {
      expect(CURRENT_EVENT_VERSIONS.WorkflowStarted).toBe(2);
      const { configVersion: _version, policy: _policy, ...storedWorkflowV1 } = examples.WorkflowStarted;
      expect(parseDomainEvent('WorkflowStarted', 1, storedWorkflowV1)).toEqual({
        type: 'WorkflowStarted',
        version: 2,
        data: { ...storedWorkflowV1, configVersion: null, policy: null },
      });
      expect(() => parseDomainEvent('WorkflowStarted', 2, storedWorkflowV1)).toThrow(/WorkflowStarted v2 data is invalid: configVersion/);
    });

    it('is still validated as the version it was stored as', () => {
      const { expiresAt: _dropped, ...withoutDeadline } = storedV1;
      expect(() => parseDomainEvent('ApprovalRequested', 1, withoutDeadline)).toThrow(/ApprovalRequested v1 data is invalid: expiresAt/);
      // The current shape under the old version number is not a v1 event.
      expect(() => parseDomainEvent('ApprovalRequested', 1, examples.ApprovalRequested)).toThrow(/v1 data is invalid/);
    });
  });

  it('words the meaning of an approval signature, with the machine when it is known', () => {
    expect(approvalSignatureMeaning('approved', 'MO_1', 'M-1')).toBe('Approved maintenance order MO_1 for machine M-1');
    expect(approvalSignatureMeaning('rejected', 'MO_1', 'M-1')).toBe('Rejected maintenance order MO_1 for machine M-1');
    expect(approvalSignatureMeaning('approved', 'MO_1')).toBe('Approved maintenance order MO_1');
    // The longest ids fit the Meaning column (200 characters).
    expect(approvalSignatureMeaning('rejected', 'O'.repeat(64), 'M'.repeat(64)).length).toBeLessThanOrEqual(200);
  });

  it('refuses an unknown type, naming it', () => {
    const attempt = () => parseDomainEvent('MachineExploded', 1, {});
    expect(attempt).toThrow(EventDecodeError);
    expect(attempt).toThrow(/unknown event type "MachineExploded"/);
  });

  it('does not take inherited properties for event types', () => {
    expect(() => parseDomainEvent('toString', 1, {})).toThrow(/unknown event type "toString"/);
  });

  it('refuses an unknown version, naming type and version', () => {
    try {
      parseDomainEvent('MaintenanceOrderOpened', 2, examples.MaintenanceOrderOpened);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EventDecodeError);
      expect((error as EventDecodeError).code).toBe('UNKNOWN_EVENT_VERSION');
      expect((error as EventDecodeError).message).toContain('event type MaintenanceOrderOpened has no version 2 (known versions: 1)');
    }
  });

  it('refuses data without a required field, naming the field', () => {
    const { orderId: _dropped, ...data } = examples.MaintenanceOrderOpened;
    try {
      parseDomainEvent('MaintenanceOrderOpened', 1, data);
      expect.unreachable();
    } catch (error) {
      expect((error as EventDecodeError).code).toBe('INVALID_EVENT_DATA');
      expect((error as EventDecodeError).message).toBe('MaintenanceOrderOpened v1 data is invalid: orderId: is required');
    }
  });

  it('names nested fields that are wrong', () => {
    const data = { ...examples.ApprovalRequested, approver: { email: 'not-an-email', name: 'Alice' } };
    expect(() => parseDomainEvent('ApprovalRequested', 1, data)).toThrow(/approver\.email: .*\(got "not-an-email"\)/);
  });

  it('refuses a time without an offset', () => {
    const data = { ...examples.WorkflowCompleted, at: '2026-11-25T10:00:00' };
    expect(() => parseDomainEvent('WorkflowCompleted', 1, data)).toThrow(/at: must be an ISO-8601 date-time with an offset/);
  });
});

describe('CommandSchema', () => {
  const common = {
    version: 1,
    commandId: 'cmd-1',
    correlationId: 'WF_1',
    plantId: 'P1',
    issuedAt: AT,
    actor: { kind: 'service', id: 'workflow' },
  } as const;

  it('parses a command of each kind', () => {
    const commands = [
      { ...common, type: 'OpenMaintenanceOrder', orderId: 'MO_1', machineId: 'M-07', workflowId: 'WF_1', reason: 'Machine fault', trigger: summary },
      { ...common, type: 'RequestApproval', approvalId: 'AP_1', orderId: 'MO_1', machineId: 'M-07', approver: alice, level: 0, expiresAt: LATER },
      {
        ...common,
        type: 'RecordApprovalDecision',
        actor: { kind: 'person', id: alice.email },
        approvalId: 'AP_1',
        orderId: 'MO_1',
        decision: 'rejected',
        approver: alice,
        clientAddress: '10.0.0.5',
        userAgent: '',
      },
      { ...common, type: 'AllocateResources', orderId: 'MO_1', machineId: 'M-07' },
      { ...common, type: 'ReleaseResources', orderId: 'MO_1' },
      { ...common, type: 'CompleteMaintenanceOrder', orderId: 'MO_1' },
      { ...common, type: 'CancelMaintenanceOrder', orderId: 'MO_1', reason: 'False alarm' },
      { ...common, type: 'RegisterResource', resourceId: 'T-01', resourceType: 'Technician', name: 'Dana Ruiz' },
    ];
    for (const command of commands) expect(CommandSchema.parse(command)).toEqual(command);
  });

  it('carries the trace context of its sender, and drops a malformed one rather than refusing the command', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const release = { ...common, type: 'ReleaseResources', orderId: 'MO_1' } as const;
    expect(CommandSchema.parse({ ...release, traceparent, tracestate: 'plant=p1' })).toMatchObject({ traceparent, tracestate: 'plant=p1' });
    for (const malformed of ['garbage', traceparent.toUpperCase(), traceparent.replace('-01', ''), `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, 42]) {
      const parsed = CommandSchema.parse({ ...release, traceparent: malformed, tracestate: 'x'.repeat(513) });
      expect(parsed.traceparent).toBeUndefined();
      expect(parsed.tracestate).toBeUndefined();
      expect(parsed).toMatchObject(release);
    }
  });

  it('refuses a command without its correlation id', () => {
    const { correlationId: _dropped, ...rest } = common;
    expect(CommandSchema.safeParse({ ...rest, type: 'ReleaseResources', orderId: 'MO_1' }).success).toBe(false);
  });
});

describe('a recorded plant configuration version', () => {
  const recorded = examples.PlantConfigVersionRecorded;

  it('holds the configuration as written, from which the services derive theirs', () => {
    expect(plantConfigOf(recorded.config)).toEqual({ ...recorded.config, approvalTimeoutMs: 30 * 60_000 });
  });

  it('refuses a configuration the file would refuse, naming the key', () => {
    const withUnknownKey = { ...recorded, config: { ...recorded.config, approvalTimeOut: 'PT1M' } };
    expect(() => parseDomainEvent('PlantConfigVersionRecorded', 1, withUnknownKey)).toThrow(/PlantConfigVersionRecorded v1 data is invalid: config/);
    const badTimeout = { ...recorded, config: { ...recorded.config, approvalTimeout: 'P1M' } };
    expect(() => parseDomainEvent('PlantConfigVersionRecorded', 1, badTimeout)).toThrow(/config\.approvalTimeout: must not use years or months/);
  });
});

describe('EventEnvelopeSchema', () => {
  const envelope = {
    eventId: 'e-1',
    type: 'MaintenanceOrderOpened',
    version: 1,
    stream: 'P1.order.MO_1',
    occurredAt: AT,
    correlationId: 'WF_1',
    causationId: null,
    actor: { kind: 'service', id: 'maintenance' },
    data: {},
  } as const;

  it('takes a W3C traceparent and tracestate, or none', () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    expect(EventEnvelopeSchema.parse({ ...envelope, traceparent, tracestate: 'plant=p1' })).toMatchObject({ traceparent, tracestate: 'plant=p1' });
    expect(EventEnvelopeSchema.parse(envelope)).toEqual(envelope);
  });

  it.each([
    ['garbage'],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7'],
    ['00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
    ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
  ])('refuses the traceparent %s', (traceparent) => {
    const result = EventEnvelopeSchema.safeParse({ ...envelope, traceparent });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/W3C traceparent/);
  });
});
