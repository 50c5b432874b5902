// Durable workflow timeouts held in JetStream: scheduling publishes a message on the plant's
// timer subject (deduplicated by the timeout id), and a durable consumer per plant holds each
// message back (nak with a delay) until it is due, then hands it to the workflow. A timer survives
// restarts and is fired by whichever copy holds it when it comes due.
import { TIMERS_STREAM, plantTimersFilter, timerSubject, type TraceContextFields } from '@mes/contracts';
import { AckPolicy, DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { inSpan, startDurableWorker, withActiveTraceContext, type Logger } from '@mes/platform';
import type { NatsConnection } from '@nats-io/transport-node';

/** Longest a timer message is held back at once; a longer wait is re-checked this often. */
const MAX_TIMER_HOLD_MS = 60 * 60 * 1000;

export interface WorkflowTimer extends TraceContextFields {
  timeoutId: string;
  workflowId: string;
  plantId: string;
  dueAt: string;
}

export interface WorkflowTimersOptions {
  nc: NatsConnection;
  plants: readonly string[];
  logger: Logger;
  now: () => Date;
  /** A timer came due; its message is acked once this resolves, and delivered again if it throws. */
  onDue(timer: WorkflowTimer): Promise<void>;
}

export function scheduleTimer(nc: NatsConnection, timer: WorkflowTimer): Promise<unknown> {
  // A timeout's escalation continues the trace of the step that scheduled it.
  return jetstream(nc).publish(timerSubject(timer.plantId, timer.workflowId), JSON.stringify(withActiveTraceContext(timer)), { msgID: timer.timeoutId });
}

export async function startWorkflowTimers(options: WorkflowTimersOptions): Promise<{ stop(): Promise<void> }> {
  const workers = await Promise.all(
    options.plants.map((plantId) =>
      startDurableWorker({
        nc: options.nc,
        stream: TIMERS_STREAM,
        logger: options.logger,
        consumer: {
          durable_name: `workflow-timers-${plantId}`,
          filter_subject: plantTimersFilter(plantId),
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          // Every timer waiting to come due is pending here (held back by a delayed nak): enough for
          // every open workflow of a plant, so a timer due soon is never stuck behind later ones.
          max_ack_pending: 100_000,
        },
        // One workflow's timers in turn (its subject); every workflow's concurrently.
        keyOf: (msg) => msg.subject,
        concurrency: 64,
        handle: async (msg) => {
          let timer: WorkflowTimer;
          try {
            timer = msg.json<WorkflowTimer>();
          } catch {
            return { kind: 'term', reason: 'timer message is not JSON' };
          }
          const wait = Date.parse(timer.dueAt) - options.now().getTime();
          if (wait > 0) return { kind: 'later', ms: Math.min(wait, MAX_TIMER_HOLD_MS) };
          await inSpan('workflow timeout', { kind: 'consumer', root: true, parent: timer, attributes: () => ({ 'mes.correlation_id': timer.workflowId, 'mes.timeout_id': timer.timeoutId }) }, () => options.onDue(timer));
          return { kind: 'ack' };
        },
      }),
    ),
  );
  return {
    async stop() {
      await Promise.all(workers.map((worker) => worker.stop()));
    },
  };
}
