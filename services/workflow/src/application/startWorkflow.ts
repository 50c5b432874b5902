// The workflow service: follows the event log, starts one workflow per incident (at most one open
// per machine), drives it with commands to maintenance, approvals and resources, and fires durable
// timeouts held in JetStream.
import {
  MachineStatusChangedSchema,
  OPEN_WORKFLOWS_BUCKET,
  TIMERS_STREAM,
  evaluateRules,
  parseStreamName,
  plantTimersFilter,
  readingSummaryOf,
  streamName,
  timerSubject,
  type Actor,
  type PlantConfig,
} from '@mes/contracts';
import { AckPolicy, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import {
  buildCommand,
  foldEvents,
  handleCommand,
  toDomainMessage,
  sendCommand,
  startDurableWorker,
  startEventConsumer,
  type CommandMetadata,
  type EventDelivery,
  type RecordedEvent,
  type RunningService,
  type ServiceDeps,
} from '@mes/platform';
import { createHash } from 'node:crypto';
import {
  maintenanceWorkflowDecider,
  workflowEffects,
  workflowIds,
  type ApprovalPolicy,
  type WorkflowEffect,
  type WorkflowEvent,
  type WorkflowInput,
  type WorkflowState,
} from '../domain/maintenanceWorkflow.js';

const ACTOR: Actor = { kind: 'service', id: 'workflow' };
/** Longest a timer message is held back at once; a longer wait is re-checked this often. */
const MAX_TIMER_HOLD_MS = 60 * 60 * 1000;

interface TimerMessage {
  timeoutId: string;
  workflowId: string;
  plantId: string;
  dueAt: string;
}

/** The workflow id of the incident a condition change starts: derived from the event, so a redelivery names the same one. */
export function workflowIdFor(triggerEventId: string): string {
  return `WF_${createHash('sha256').update(triggerEventId).digest('hex').slice(0, 20)}`;
}

export interface WorkflowServiceOptions {
  /** Clock, for tests of timeouts. */
  now?: () => Date;
}

export function createWorkflowService(options: WorkflowServiceOptions = {}) {
  return (deps: ServiceDeps) => startWorkflow(deps, options);
}

export async function start(deps: ServiceDeps): Promise<RunningService> {
  return startWorkflow(deps, {});
}

async function startWorkflow(deps: ServiceDeps, options: WorkflowServiceOptions): Promise<RunningService> {
  const now = options.now ?? (() => new Date());
  const plants = deps.config.plants ?? Object.keys(deps.plants.plants);
  const openWorkflows: KV = await new Kvm(deps.nc).open(OPEN_WORKFLOWS_BUCKET);
  const js = jetstream(deps.nc);
  const logger = deps.logger;

  const plantConfig = (plantId: string): PlantConfig => {
    const plant = deps.plants.plants[plantId];
    if (!plant) throw new Error(`plant ${plantId} is not in the plant configuration`);
    return plant;
  };
  const policyOf = (plantId: string): ApprovalPolicy => {
    const plant = plantConfig(plantId);
    return { approvers: plant.approvers, approvalTimeoutMs: plant.approvalTimeoutMs };
  };

  /**
   * Decides one input on the workflow's stream, then does what the resulting state calls for. The
   * effects are idempotent, but not free (each command makes its service decide again), so they run
   * when the input changed the workflow, or when it may have changed it before without the effects
   * having run: a redelivered input (the copy that had it may have died in between) and, at
   * start-up, every open workflow (see `resumeOpenWorkflows`).
   */
  const drive = async (plantId: string, workflowId: string, input: WorkflowInput, causationId: string | null, redelivered: boolean): Promise<void> => {
    const result = await handleCommand(
      { store: deps.eventStore, now },
      maintenanceWorkflowDecider,
      streamName(plantId, 'workflow', workflowId),
      input,
      { correlationId: workflowId, causationId, actor: ACTOR },
    );
    if (result.events.length > 0) logger.info({ workflowId, events: result.events.map((e) => e.type === 'WorkflowStepRecorded' ? `step:${e.data.step}` : e.type) }, 'workflow advanced');
    if (result.state && (result.events.length > 0 || redelivered)) await runEffects(result.state, workflowEffects(result.state));
  };

  /** Does what each open workflow of the served plants calls for: a previous process may have died between deciding and doing. */
  const resumeOpenWorkflows = async (): Promise<void> => {
    const served = new Set(plants);
    for await (const key of await openWorkflows.keys()) {
      const [plantId] = key.split('.');
      if (plantId === undefined || !served.has(plantId)) continue;
      const entry = await openWorkflows.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      const workflowId = entry.string();
      const { events } = await deps.eventStore.readStream(streamName(plantId, 'workflow', workflowId));
      const state = foldEvents(maintenanceWorkflowDecider, events.map(toDomainMessage) as WorkflowEvent[]);
      if (state) await runEffects(state, workflowEffects(state));
    }
  };

  /** The metadata of a command this workflow sends: deterministic id, correlated by the workflow id. */
  const from = (state: WorkflowState, commandId: string): CommandMetadata => ({
    commandId,
    correlationId: state.workflowId,
    plantId: state.plantId,
    issuedAt: now().toISOString(),
    actor: ACTOR,
  });

  const runEffects = async (state: WorkflowState, effects: WorkflowEffect[]): Promise<void> => {
    const policy = policyOf(state.plantId);
    for (const effect of effects) {
      switch (effect.kind) {
        case 'openOrder':
          await sendCommand(deps.nc, buildCommand('OpenMaintenanceOrder', from(state, effect.commandId), {
            orderId: state.orderId,
            machineId: state.machineId,
            workflowId: state.workflowId,
            reason: state.reason,
            trigger: state.trigger,
          }));
          break;
        case 'requestApproval': {
          const approver = policy.approvers[effect.level];
          if (!approver) throw new Error(`plant ${state.plantId} has no approver at level ${effect.level}`);
          await sendCommand(deps.nc, buildCommand('RequestApproval', from(state, effect.commandId), {
            approvalId: effect.approvalId,
            orderId: state.orderId,
            machineId: state.machineId,
            approver,
            level: effect.level,
            // When this level escalates or expires; the links' own validity (24 h) is the approvals service's.
            expiresAt: effect.decideBy ?? new Date(now().getTime() + policy.approvalTimeoutMs).toISOString(),
            ...(effect.supersedesApprovalId ? { supersedesApprovalId: effect.supersedesApprovalId } : {}),
          }));
          break;
        }
        case 'scheduleTimeout': {
          const timer: TimerMessage = { timeoutId: effect.timeoutId, workflowId: state.workflowId, plantId: state.plantId, dueAt: effect.dueAt };
          await js.publish(timerSubject(state.plantId, state.workflowId), JSON.stringify(timer), { msgID: effect.timeoutId });
          break;
        }
        case 'recordDecision':
          await sendCommand(deps.nc, buildCommand('RecordOrderDecision', from(state, effect.commandId), {
            orderId: state.orderId,
            approvalId: effect.approvalId,
            decision: effect.decision.decision,
            approver: effect.decision.approver,
            decidedAt: effect.decision.decidedAt,
            ...(effect.decision.comment === undefined ? {} : { comment: effect.decision.comment }),
          }));
          break;
        case 'expireApproval':
          await sendCommand(deps.nc, buildCommand('ExpireApproval', from(state, effect.commandId), { approvalId: effect.approvalId, orderId: state.orderId }));
          break;
        case 'expireOrder':
          await sendCommand(deps.nc, buildCommand('ExpireMaintenanceOrder', from(state, effect.commandId), { orderId: state.orderId }));
          break;
        case 'allocateResources':
          await sendCommand(deps.nc, buildCommand('AllocateResources', from(state, effect.commandId), { orderId: state.orderId, machineId: state.machineId }));
          break;
        case 'withdrawApprovals':
          await sendCommand(deps.nc, buildCommand('WithdrawApprovals', from(state, effect.commandId), { orderId: state.orderId, reason: effect.reason }));
          break;
        case 'releaseResources':
          await sendCommand(deps.nc, buildCommand('ReleaseResources', from(state, effect.commandId), { orderId: state.orderId }));
          break;
        case 'releaseMachine':
          await releaseMachine(state);
          break;
        default: {
          const _exhaustive: never = effect;
          throw new Error(`unknown effect ${JSON.stringify(_exhaustive)}`);
        }
      }
    }
  };

  const machineKey = (plantId: string, machineId: string) => `${plantId}.${machineId}`;

  /** Claims the machine for `workflowId`; false when another workflow is open for it. */
  const claimMachine = async (plantId: string, machineId: string, workflowId: string): Promise<boolean> => {
    const key = machineKey(plantId, machineId);
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await openWorkflows.create(key, workflowId);
        return true;
      } catch {
        const entry = await openWorkflows.get(key);
        if (entry && entry.operation === 'PUT') return entry.string() === workflowId;
        // Deleted in between: the machine is free again; try to claim it once more.
      }
    }
    return false;
  };

  const releaseMachine = async (state: WorkflowState): Promise<void> => {
    const key = machineKey(state.plantId, state.machineId);
    const entry = await openWorkflows.get(key);
    if (!entry || entry.operation !== 'PUT' || entry.string() !== state.workflowId) return;
    try {
      await openWorkflows.delete(key, { previousSeq: entry.revision });
      logger.info({ workflowId: state.workflowId, machineId: state.machineId, outcome: state.outcome }, 'workflow completed; machine free for the next incident');
    } catch {
      // Someone released or re-claimed it meanwhile; nothing of ours to free.
    }
  };

  const onConditionChanged = async (event: RecordedEvent, plantId: string, redelivered: boolean): Promise<void> => {
    const parsed = MachineStatusChangedSchema.shape.data.safeParse(event.data);
    if (!parsed.success) {
      logger.error({ eventId: event.eventId, issues: parsed.error.issues }, 'MachineStatusChanged with invalid data; ignored');
      return;
    }
    const { machineId, reading } = parsed.data;
    const plant = deps.plants.plants[plantId];
    if (!plant) return;
    const match = evaluateRules(plant.rules, reading);
    if (!match || match.rule.action !== 'maintenance') return;
    const workflowId = workflowIdFor(event.eventId);
    if (!(await claimMachine(plantId, machineId, workflowId))) {
      logger.info({ plantId, machineId, reason: match.rule.reason }, 'condition calls for maintenance, but a workflow is already open for this machine');
      return;
    }
    await drive(plantId, workflowId, {
      type: 'StartWorkflow',
      workflowId,
      plantId,
      machineId,
      ruleIndex: match.index,
      reason: match.rule.reason,
      trigger: readingSummaryOf(reading),
      at: now().toISOString(),
    }, event.eventId, redelivered);
  };

  const onEvent = async (event: RecordedEvent, { redelivered }: EventDelivery): Promise<void> => {
    const { plantId, category } = parseStreamName(event.stream);
    if (category === 'workflow') return;
    if (event.type === 'MachineStatusChanged') return onConditionChanged(event, plantId, redelivered);
    if (!event.correlationId.startsWith('WF_')) return;
    await drive(plantId, event.correlationId, {
      type: 'ObserveEvent',
      eventType: event.type,
      data: event.data as Record<string, unknown>,
      policy: policyOf(plantId),
      at: now().toISOString(),
    }, event.eventId, redelivered);
  };

  await resumeOpenWorkflows();
  const events = await startEventConsumer({ nc: deps.nc, name: 'workflow', plants, logger, handle: onEvent });

  const timers = await Promise.all(
    plants.map((plantId) =>
      startDurableWorker({
        nc: deps.nc,
        stream: TIMERS_STREAM,
        logger,
        consumer: {
          durable_name: `workflow-timers-${plantId}`,
          filter_subject: plantTimersFilter(plantId),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          max_ack_pending: 1_000,
        },
        handle: async (msg) => {
          let timer: TimerMessage;
          try {
            timer = msg.json<TimerMessage>();
          } catch {
            return { kind: 'term', reason: 'timer message is not JSON' };
          }
          const wait = Date.parse(timer.dueAt) - now().getTime();
          if (wait > 0) return { kind: 'later', ms: Math.min(wait, MAX_TIMER_HOLD_MS) };
          // Held-back timer messages always count as redelivered; a due one runs its effects either way.
          await drive(timer.plantId, timer.workflowId, { type: 'FireTimeout', timeoutId: timer.timeoutId, policy: policyOf(timer.plantId), at: now().toISOString() }, timer.timeoutId, true);
          return { kind: 'ack' };
        },
      }),
    ),
  );

  return {
    async stop() {
      await events.stop();
      await Promise.all(timers.map((t) => t.stop()));
    },
  };
}

export { workflowIds };
