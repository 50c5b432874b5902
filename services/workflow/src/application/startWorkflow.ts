// The workflow service: follows the event log, starts one workflow per incident (at most one open
// per machine), and drives it: each input (a condition change, another service's event, a timeout)
// is decided on the workflow's own stream, then what the resulting state calls for is done.
// Composition only; the parts are adapters/ (claims, timers, command effects) and domain/ (the saga).
import { evaluateRules, parseStreamName, readingSummaryOf, streamName, type DomainEvent, type MachineStatusChanged, type PlantConfig } from '@mes/contracts';
import {
  AggregateCache,
  forEachAtOnce,
  handleCommand,
  inSpan,
  PlantConfigVersions,
  stateFrom,
  startEventConsumer,
  type EventDelivery,
  type RecordedDomainEvent,
  type RecordedEvent,
  type RunningService,
  type ServiceDeps,
} from '@mes/platform';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { commandEffects, WORKFLOW_ACTOR } from '../adapters/commandEffects.js';
import { OpenWorkflowClaims } from '../adapters/openWorkflowClaims.js';
import { readOpenWorkflowHistories } from '../adapters/openWorkflowHistories.js';
import { startWorkflowTimers } from '../adapters/workflowTimers.js';
import {
  decideWorkflow,
  ignoredBecause,
  OBSERVED_EVENT_TYPES,
  maintenanceWorkflowDecider,
  workflowIds,
  type ApprovalPolicy,
  type WorkflowInput,
  type WorkflowState,
} from '../domain/maintenanceWorkflow.js';
import { workflowEffects } from '../domain/workflowEffects.js';

/** Open workflows resumed at once at start-up (each re-sends its idempotent commands, some read their stream first). */
const RESUME_CONCURRENCY = 96;
/** The start-up pass over workflow events begins this long before the oldest open claim: NATS nodes' clocks may differ. */
const RESUME_SCAN_MARGIN_MS = 5 * 60_000;
/** A pass reading more workflow events than this per open workflow (or than the floor below) is given up for reads stream by stream. */
const RESUME_SCAN_EVENTS_PER_OPEN = 50;
const RESUME_SCAN_MIN_EVENTS = 20_000;

/** The workflow id of the incident a condition change starts: derived from the event, so a redelivery names the same one. */
export function workflowIdFor(triggerEventId: string): string {
  return `WF_${createHash('sha256').update(triggerEventId).digest('hex').slice(0, 20)}`;
}

export interface WorkflowServiceOptions {
  /** Clock, for tests of timeouts. */
  now?: () => Date;
}

/** Starts the workflow service on shared dependencies; `npm start` runs every service in one process this way. */
export async function start(deps: ServiceDeps, options: WorkflowServiceOptions = {}): Promise<RunningService> {
  const now = options.now ?? (() => new Date());
  const { logger } = deps;
  const plants = deps.servedPlants;
  const claims = await OpenWorkflowClaims.open(deps.nc);
  const workflowStates = new AggregateCache<WorkflowState | null>();

  const configVersions = new PlantConfigVersions(deps.eventStore);

  /**
   * The plant's newest recorded configuration version (CONTRACT §3), read at each condition change
   * so that an incident starting after `mes config reload` runs under the reloaded version in every
   * copy; the file this process started with when no version is recorded (services started
   * without the runtime, e.g. in tests).
   */
  const newestPlantConfig = async (plantId: string): Promise<{ version: number | null; plant: PlantConfig } | undefined> => {
    const recorded = await configVersions.newest(plantId);
    if (recorded) return { version: recorded.version, plant: recorded.config };
    const plant = deps.plants.plants[plantId];
    return plant === undefined ? undefined : { version: null, plant };
  };
  const policyOfPlant = (plant: PlantConfig): ApprovalPolicy => ({ approvers: plant.approvers, approvalTimeoutMs: plant.approvalTimeoutMs });
  /** The policy of the file this process started with: only workflows started before versions were recorded follow it. */
  const startupPolicy = (plantId: string): ApprovalPolicy => {
    const plant = deps.plants.plants[plantId];
    if (!plant) throw new Error(`plant ${plantId} is not in the plant configuration`);
    return policyOfPlant(plant);
  };
  const runEffects = commandEffects({
    nc: deps.nc,
    claims,
    policyOf: (state) => state.policy ?? startupPolicy(state.plantId),
    now,
    logger,
  });

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
      { correlationId: workflowId, causationId, actor: WORKFLOW_ACTOR },
      // A start is of a new workflow (a redelivered one is refused by its stream and read after all).
      { cache: workflowStates, startsStream: input.type === 'StartWorkflow' },
    );
    if (result.state === null && input.type !== 'StartWorkflow') {
      // Only a workflow names itself in its orders' events and its timers, so it was started: a read
      // without its start came from a NATS node whose copy of the log is behind the one that
      // delivered the input (a cluster under load or mid-failover). Ignoring the input would lose it.
      workflowStates.forget(streamName(plantId, 'workflow', workflowId));
      throw new Error(`workflow ${workflowId}: the read of its stream shows no start, yet ${input.type === 'ObserveEvent' ? input.event.type : input.type} names it; will read again`);
    }
    if (result.events.length > 0) {
      logger.info({ workflowId, events: result.events.map((e) => (e.type === 'WorkflowStepRecorded' ? `step:${e.data.step}` : e.type)) }, 'workflow advanced');
    } else {
      logger.debug({ workflowId, input: input.type, because: ignoredBecause(decideWorkflow(input, result.state)) }, 'workflow input changed nothing');
    }
    if (result.state && (result.events.length > 0 || redelivered)) await runEffects(result.state, workflowEffects(result.state));
  };

  /**
   * Does what each open workflow of the served plants calls for: a previous process may have died
   * between deciding and doing. Workflows are independent, so many are resumed at once; one that
   * fails is logged and left to its next input or timer, not allowed to stop the start-up.
   */
  const resumeOpenWorkflows = async (): Promise<void> => {
    const started = performance.now();
    let failed = 0;
    const open = await claims.listOpen(new Set(plants));
    const histories = await readOpenWorkflowHistories(deps.eventStore, open, { marginMs: RESUME_SCAN_MARGIN_MS, eventsPerOpen: RESUME_SCAN_EVENTS_PER_OPEN, minEvents: RESUME_SCAN_MIN_EVENTS, logger }).catch((err: unknown) => {
      logger.warn({ err }, 'could not read the open workflows in one pass; reading them stream by stream');
      return new Map<string, RecordedEvent[]>();
    });
    const inOnePass = histories.size;
    await forEachAtOnce(open, RESUME_CONCURRENCY, async (o) => {
      try {
        const stream = streamName(o.plantId, 'workflow', o.workflowId);
        const events = histories.get(stream) ?? (await deps.eventStore.readStream(stream)).events;
        histories.delete(stream);
        const state = stateFrom(maintenanceWorkflowDecider, events);
        // What it does now belongs to the incident's trace, continued from its last step.
        if (state) await inSpan('workflow resume', { root: true, parent: events.at(-1), attributes: () => ({ 'mes.correlation_id': o.workflowId }) }, () => runEffects(state, workflowEffects(state)));
      } catch (err) {
        failed++;
        logger.warn({ err, plantId: o.plantId, workflowId: o.workflowId }, 'could not resume an open workflow at start-up; its next input or timer will');
      }
    });
    logger.info({ resumed: open.length, failed, inOnePass, ms: Math.round(performance.now() - started) }, 'open workflows resumed');
  };

  const onConditionChanged = async (event: RecordedDomainEvent & MachineStatusChanged, plantId: string, redelivered: boolean): Promise<void> => {
    const { machineId, reading } = event.data;
    const newest = await newestPlantConfig(plantId);
    if (!newest) return;
    const { plant, version } = newest;
    const match = evaluateRules(plant.rules, reading);
    if (!match || match.rule.action !== 'maintenance') return;
    const workflowId = workflowIdFor(event.eventId);
    if (!(await claims.claim(plantId, machineId, workflowId))) {
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
      configVersion: version,
      policy: policyOfPlant(plant),
      at: now().toISOString(),
    }, event.eventId, redelivered);
  };

  /** Only what `wants` below lets through: condition changes, and other services' events that can change a workflow. */
  const onEvent = async (event: RecordedDomainEvent, { redelivered }: EventDelivery): Promise<void> => {
    const { plantId } = parseStreamName(event.stream);
    if (event.type === 'MachineStatusChanged') return onConditionChanged(event, plantId, redelivered);
    await drive(plantId, event.correlationId, { type: 'ObserveEvent', event, policy: startupPolicy(plantId), at: now().toISOString() }, event.eventId, redelivered);
  };

  await resumeOpenWorkflows();
  const events = await startEventConsumer({
    nc: deps.nc,
    name: 'workflow',
    plants,
    logger,
    handle: onEvent,
    // A workflow's inputs in log order, whichever stream they come from; workflows (and machines) concurrently.
    keyOf: (event) => (event.correlationId.startsWith('WF_') ? event.correlationId : event.stream),
    // Condition changes, and the events of other services that can change a workflow; the rest of the
    // plant's log (its own events, requests and emails it waits past) is passed over unparsed, unread.
    wants: (event) => event.type === 'MachineStatusChanged' || (OBSERVED_EVENT_TYPES.has(event.type as DomainEvent['type']) && event.correlationId.startsWith('WF_')),
  });
  const timers = await startWorkflowTimers({
    nc: deps.nc,
    plants,
    logger,
    now,
    // Held-back timer messages always count as redelivered; a due one runs its effects either way.
    onDue: (timer) => drive(timer.plantId, timer.workflowId, { type: 'FireTimeout', timeoutId: timer.timeoutId, policy: startupPolicy(timer.plantId), at: now().toISOString() }, timer.timeoutId, true),
  });

  return {
    async stop() {
      await events.stop();
      await timers.stop();
    },
  };
}

export { workflowIds };
