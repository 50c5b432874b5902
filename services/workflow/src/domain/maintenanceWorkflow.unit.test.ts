import { DOMAIN_EVENT_TYPES, type DomainEvent } from '@mes/contracts';
import { foldEvents } from '@mes/platform';
import { deciderSpecification } from '@mes/platform/testing';
import { describe, expect, it } from 'vitest';
import {
  decideWorkflow,
  maintenanceWorkflowDecider,
  OBSERVED_EVENT_TYPES,
  workflowIds,
  type WorkflowPhase,
  type WorkflowState,
  type ApprovalPolicy,
  type WorkflowEvent,
  type WorkflowInput,
} from './maintenanceWorkflow.js';
import { workflowEffects } from './workflowEffects.js';

const spec = deciderSpecification(maintenanceWorkflowDecider);
const WF = 'WF_abc';
const T0 = '2026-11-25T10:00:00.000Z';
const T1 = '2026-11-25T10:05:00.000Z';
const alice = { email: 'alice@plant1.example', name: 'Alice Novak' };
const bob = { email: 'bob@plant1.example', name: 'Bob Ito' };
const policy: ApprovalPolicy = { approvers: [alice, bob], approvalTimeoutMs: 30 * 60_000 };
const trigger = { machineStatus: 'Fault' as const, qualityTrend: 'Stable' as const, productionTarget: 100, productionActual: 40, timestamp: T0 };

const carol = { email: 'carol@plant1.example', name: 'Carol Diaz' };
const dave = { email: 'dave@plant1.example', name: 'Dave Roe' };
/** The plant's policy after a reload: other approvers, more of them, and less time each. */
const reloadedPolicy: ApprovalPolicy = { approvers: [carol, dave, alice], approvalTimeoutMs: 5 * 60_000 };

const started: WorkflowEvent = {
  type: 'WorkflowStarted',
  version: 2,
  data: { workflowId: WF, plantId: 'P1', machineId: 'M-1', ruleIndex: 0, reason: 'Machine fault', triggeredBy: trigger, startedAt: T0, configVersion: 4, policy },
};
const start = (at = T0): WorkflowInput => ({ type: 'StartWorkflow', workflowId: WF, plantId: 'P1', machineId: 'M-1', ruleIndex: 0, reason: 'Machine fault', trigger, configVersion: 4, policy, at });
/** Another service's event as the workflow receives it; only the fields the saga reads matter here. */
const observe = (eventType: DomainEvent['type'], data: Record<string, unknown> = {}, at = T1): WorkflowInput => ({ type: 'ObserveEvent', event: { type: eventType, version: 1, data } as DomainEvent, policy, at });
const askedLevel = (level: number, at = T1): WorkflowEvent[] => [
  {
    type: 'WorkflowStepRecorded',
    version: 1,
    data: { workflowId: WF, step: level === 0 ? 'approval-requested' : 'approval-escalated', at, level, approvalId: workflowIds.approval(WF, level), detail: `asked ${policy.approvers[level]!.email}` },
  },
  {
    type: 'WorkflowTimeoutScheduled',
    version: 1,
    data: { workflowId: WF, timeoutId: workflowIds.timeout(WF, level), dueAt: new Date(Date.parse(at) + policy.approvalTimeoutMs).toISOString(), purpose: 'approvalTimeout' },
  },
];
const decision = { decision: 'approved' as const, approver: alice, decidedAt: T1, comment: 'go ahead' };
const decided: WorkflowEvent = {
  type: 'WorkflowStepRecorded',
  version: 1,
  data: { workflowId: WF, step: 'decision-received', at: T1, level: 0, approvalId: workflowIds.approval(WF, 0), decision, detail: 'approved by alice@plant1.example' },
};
const completed = (outcome: 'Completed' | 'Rejected' | 'Expired' | 'Cancelled', at = T1): WorkflowEvent => ({ type: 'WorkflowCompleted', version: 1, data: { workflowId: WF, outcome, at } });
const step = (name: string, extra: Record<string, unknown> = {}): WorkflowEvent => ({ type: 'WorkflowStepRecorded', version: 1, data: { workflowId: WF, step: name, at: T1, ...extra } });

describe('maintenance workflow', () => {
  describe('when nothing has started', () => {
    it('starts on a rule match', () => {
      spec.given([]).when(start()).then([started]);
    });

    it('ignores events of workflows it does not know', () => {
      spec.given([]).when(observe('MaintenanceOrderOpened')).then([]);
    });
  });

  describe('when the order is being opened', () => {
    it('does not start twice (a redelivered trigger)', () => {
      spec.given([started]).when(start(T1)).then([]);
    });

    it('asks the first approver once the order is open, with a timeout', () => {
      spec.given([started]).when(observe('MaintenanceOrderOpened')).then(askedLevel(0));
    });

    it('asks maintenance for the order', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, [started]))).toEqual([{ kind: 'openOrder', commandId: `${WF}/open-order` }]);
    });
  });

  describe('when a decision is awaited', () => {
    const waiting = [started, ...askedLevel(0)];

    it('records the decision of the current request', () => {
      spec.given(waiting).when(observe('ApprovalDecided', { approvalId: workflowIds.approval(WF, 0), ...decision })).then([decided]);
    });

    it('ignores a decision on another request', () => {
      spec.given(waiting).when(observe('ApprovalDecided', { approvalId: 'AP_other_0', ...decision })).then([]);
    });

    it('ignores a second MaintenanceOrderOpened (redelivery)', () => {
      spec.given(waiting).when(observe('MaintenanceOrderOpened')).then([]);
    });

    it('escalates to the next approver when the timeout fires', () => {
      spec.given(waiting).when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 0), policy, at: T1 }).then(askedLevel(1));
    });

    it('expires the approval when the last approver\'s timeout fires', () => {
      spec
        .given([...waiting, ...askedLevel(1)])
        .when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 1), policy, at: T1 })
        .then([step('approval-expiring', { level: 1, approvalId: workflowIds.approval(WF, 1), detail: 'no approver decided in time' })]);
    });

    it('ignores a stale timeout of an earlier level', () => {
      spec.given([...waiting, ...askedLevel(1)]).when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 0), policy, at: T1 }).then([]);
    });

    it('asks for approval and schedules the timeout, superseding the earlier request after an escalation', () => {
      const state = foldEvents(maintenanceWorkflowDecider, [...waiting, ...askedLevel(1)]);
      expect(workflowEffects(state)).toEqual([
        {
          kind: 'requestApproval',
          commandId: `${WF}/request-approval/1`,
          level: 1,
          approvalId: workflowIds.approval(WF, 1),
          decideBy: '2026-11-25T10:35:00.000Z',
          supersedesApprovalId: workflowIds.approval(WF, 0),
        },
        { kind: 'scheduleTimeout', timeoutId: workflowIds.timeout(WF, 1), dueAt: '2026-11-25T10:35:00.000Z', level: 1 },
      ]);
    });
  });

  describe('when the plant configuration was reloaded after the workflow started', () => {
    const waiting = [started, ...askedLevel(0)];

    it('asks the first approver of the version it started under', () => {
      spec.given([started]).when({ type: 'ObserveEvent', event: { type: 'MaintenanceOrderOpened', version: 1, data: {} } as DomainEvent, policy: reloadedPolicy, at: T1 }).then(askedLevel(0));
    });

    it('escalates to the next approver of its own version, with its own timeout', () => {
      spec.given(waiting).when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 0), policy: reloadedPolicy, at: T1 }).then(askedLevel(1));
    });

    it('expires after the last approver of its own version, however many the new version lists', () => {
      spec
        .given([...waiting, ...askedLevel(1)])
        .when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 1), policy: reloadedPolicy, at: T1 })
        .then([step('approval-expiring', { level: 1, approvalId: workflowIds.approval(WF, 1), detail: 'no approver decided in time' })]);
    });
  });

  describe('when the workflow was started before configuration versions were recorded (WorkflowStarted v1)', () => {
    const startedV1: WorkflowEvent = { ...started, data: { ...started.data, configVersion: null, policy: null } } as WorkflowEvent;

    it('follows the service\'s current policy', () => {
      spec
        .given([startedV1, ...askedLevel(0)])
        .when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 0), policy: reloadedPolicy, at: T1 })
        .then([
          step('approval-escalated', { level: 1, approvalId: workflowIds.approval(WF, 1), detail: `asked ${dave.email}` }),
          { type: 'WorkflowTimeoutScheduled', version: 1, data: { workflowId: WF, timeoutId: workflowIds.timeout(WF, 1), dueAt: '2026-11-25T10:10:00.000Z', purpose: 'approvalTimeout' } },
        ]);
    });
  });

  describe('when a decision recorded before its decide-by time races the timer', () => {
    const waiting = [started, ...askedLevel(0)];
    const escalated = [...waiting, ...askedLevel(1)];
    const expiring = [...escalated, step('approval-expiring', { level: 1, approvalId: workflowIds.approval(WF, 1) })];
    const decidedAt = (level: number) => ({ approvalId: workflowIds.approval(WF, level), ...decision, approver: policy.approvers[level]! });
    const received = (level: number): WorkflowEvent =>
      step('decision-received', { level, approvalId: workflowIds.approval(WF, level), decision: { ...decision, approver: policy.approvers[level]! }, detail: `approved by ${policy.approvers[level]!.email}` });

    it('takes the first approver\'s decision that arrives after the timer escalated to the next', () => {
      spec.given(escalated).when(observe('ApprovalDecided', decidedAt(0))).then([received(0)]);
    });

    it('takes the last approver\'s decision that arrives after the timer asked for the expiry', () => {
      spec.given(expiring).when(observe('ApprovalDecided', decidedAt(1))).then([received(1)]);
    });

    it('takes an earlier level\'s decision that arrives while the expiry is asked for', () => {
      spec.given(expiring).when(observe('ApprovalDecided', decidedAt(0))).then([received(0)]);
    });

    it('records the decided request on the order, not the one asked for last', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, [...escalated, received(0)]))).toEqual([
        { kind: 'recordDecision', commandId: `${WF}/record-decision`, decision, approvalId: workflowIds.approval(WF, 0) },
      ]);
    });

    it('ignores a timeout of the superseded level once the decision is in', () => {
      spec.given([...escalated, received(0)]).when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 1), policy, at: T1 }).then([]);
    });

    it('ignores a decision on a level it never asked for', () => {
      spec.given(waiting).when(observe('ApprovalDecided', decidedAt(1))).then([]);
    });
  });

  describe('when the order is cancelled while a decision is awaited', () => {
    const waiting = [started, ...askedLevel(0)];

    it('ends Cancelled', () => {
      spec.given(waiting).when(observe('MaintenanceOrderCancelled')).then([completed('Cancelled')]);
    });

    it('withdraws the pending approval requests, releases what the order might hold and frees the machine', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, [...waiting, completed('Cancelled')]))).toEqual([
        { kind: 'withdrawApprovals', commandId: `${WF}/withdraw-approvals`, reason: 'order cancelled' },
        { kind: 'releaseResources', commandId: `${WF}/release-resources` },
        { kind: 'releaseMachine' },
      ]);
    });

    it('withdraws nothing when the order is cancelled after its decision', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, [...waiting, decided, step('awaiting-resources'), completed('Cancelled')])).map((e) => e.kind)).toEqual(['releaseResources', 'releaseMachine']);
    });
  });

  describe('when the decision is being recorded on the order', () => {
    const recording = [started, ...askedLevel(0), decided];

    it('ignores a timeout that fires after the decision', () => {
      spec.given(recording).when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 0), policy, at: T1 }).then([]);
    });

    it('waits for resources once the order is approved', () => {
      spec.given(recording).when(observe('MaintenanceOrderApproved')).then([step('awaiting-resources')]);
    });

    it('ends Rejected when the order is rejected', () => {
      spec.given(recording).when(observe('MaintenanceOrderRejected')).then([completed('Rejected')]);
    });

    it('asks maintenance to record the decision', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, recording))).toEqual([
        { kind: 'recordDecision', commandId: `${WF}/record-decision`, decision, approvalId: workflowIds.approval(WF, 0) },
      ]);
    });
  });

  describe('when the approval is expiring', () => {
    const expiring = [started, ...askedLevel(0), ...askedLevel(1), step('approval-expiring', { level: 1, approvalId: workflowIds.approval(WF, 1) })];

    it('expires the order after the approval expired, then ends Expired', () => {
      spec.given(expiring).when(observe('ApprovalExpired', { approvalId: workflowIds.approval(WF, 1) })).then([step('approval-expired', { approvalId: workflowIds.approval(WF, 1) })]);
      spec.given([...expiring, step('approval-expired', { approvalId: workflowIds.approval(WF, 1) })]).when(observe('MaintenanceOrderExpired')).then([completed('Expired')]);
    });

    it('asks approvals to expire the last request', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, expiring))).toEqual([{ kind: 'expireApproval', commandId: `${WF}/expire-approval`, approvalId: workflowIds.approval(WF, 1) }]);
    });
  });

  describe('when resources are awaited', () => {
    const awaiting = [started, ...askedLevel(0), decided, step('awaiting-resources')];

    it('asks resources for an allocation', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, awaiting))).toEqual([{ kind: 'allocateResources', commandId: `${WF}/allocate-resources` }]);
    });

    it('ends Completed or Cancelled with the order', () => {
      spec.given(awaiting).when(observe('MaintenanceOrderCompleted')).then([completed('Completed')]);
      spec.given(awaiting).when(observe('MaintenanceOrderCancelled')).then([completed('Cancelled')]);
    });

    it('gives the resources back and frees the machine once the order is completed', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, [...awaiting, completed('Completed')]))).toEqual([
        { kind: 'releaseResources', commandId: `${WF}/release-resources` },
        { kind: 'releaseMachine' },
      ]);
    });
  });

  describe('when completed', () => {
    const done = [started, ...askedLevel(0), decided, completed('Rejected')];

    it('decides nothing more', () => {
      spec.given(done).when(observe('MaintenanceOrderCancelled')).then([]);
      spec.given(done).when({ type: 'FireTimeout', timeoutId: workflowIds.timeout(WF, 0), policy, at: T1 }).then([]);
    });

    it('frees the machine for the next incident', () => {
      expect(workflowEffects(foldEvents(maintenanceWorkflowDecider, done))).toEqual([{ kind: 'releaseMachine' }]);
    });
  });
});

describe('the event types a workflow observes', () => {
  const phases: WorkflowPhase[] = ['OpeningOrder', 'AwaitingDecision', 'RecordingDecision', 'ExpiringApproval', 'ExpiringOrder', 'AwaitingResources', 'ResourcesAllocated', 'Completed'];
  const base = maintenanceWorkflowDecider.evolve(null, started)!;
  const inPhase = (phase: WorkflowPhase): WorkflowState => ({ ...base, phase, approvalId: workflowIds.approval(WF, 0), decision: null });

  it('are the only ones that change it: every other type is ignored in every phase (so the service passes them over unread)', () => {
    const others = DOMAIN_EVENT_TYPES.filter((type) => !OBSERVED_EVENT_TYPES.has(type));
    expect(others.length).toBeGreaterThan(0);
    for (const type of others) {
      for (const phase of phases) {
        const decision = decideWorkflow(observe(type, { approvalId: workflowIds.approval(WF, 0) }), inPhase(phase));
        expect(Array.isArray(decision) ? `${type} in ${phase} decided ${decision.map((e) => e.type).join(', ')}` : 'ignored').toBe('ignored');
      }
    }
  });

  it('each change a workflow in some phase', () => {
    for (const type of OBSERVED_EVENT_TYPES) {
      expect(DOMAIN_EVENT_TYPES).toContain(type);
      const changes = phases.filter((phase) => {
        const decision = decideWorkflow(observe(type, { approvalId: workflowIds.approval(WF, 0), decision: 'Approved', approver: alice, decidedAt: T1 }), inPhase(phase));
        return Array.isArray(decision) && decision.length > 0;
      });
      expect(changes.length, `${type} changes no phase`).toBeGreaterThan(0);
    }
  });
});

