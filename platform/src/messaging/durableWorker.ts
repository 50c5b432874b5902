// A durable JetStream consumer worked one message at a time: ack after the effect commits, nak
// with a growing delay on failure, term a message that can never succeed (STYLE.md item 7).
// It survives NATS restarts: if the message iterator ends, it re-binds with a backoff.
import { jetstream, jetstreamManager, type ConsumerConfig, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { ensureDurableConsumer } from '../nats/topology.js';

const ACK_WAIT_MS = 10_000;

export type WorkOutcome =
  | { kind: 'ack' }
  | { kind: 'term'; reason: string }
  | { kind: 'retry'; reason: string }
  /** Not yet: deliver this message again after `ms` (a timer that is not due). */
  | { kind: 'later'; ms: number };

export interface DurableWorkerOptions {
  nc: NatsConnection;
  stream: string;
  consumer: Partial<ConsumerConfig> & { durable_name: string; filter_subject: string };
  logger: Logger;
  handle(msg: JsMsg): Promise<WorkOutcome>;
}

export interface DurableWorker {
  stop(): Promise<void>;
}

/** Delay before redelivering a message that failed `deliveryCount` times: 0.5 s doubling to 30 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, deliveryCount - 1));
}

export async function startDurableWorker(options: DurableWorkerOptions): Promise<DurableWorker> {
  const { nc, stream, logger } = options;
  const name = options.consumer.durable_name;
  // A copy that dies holding a message (or a pending pull) has it redelivered after ack_wait; keep
  // that short, and extend it while a handler really is working (see `progress` below).
  await ensureDurableConsumer(await jetstreamManager(nc), stream, { ack_wait: nanos(ACK_WAIT_MS), ...options.consumer });
  const js = jetstream(nc);
  let stopped = false;
  let messages: ConsumerMessages | undefined;
  let inFlight: Promise<void> = Promise.resolve();

  const process = async (msg: JsMsg): Promise<void> => {
    let outcome: WorkOutcome;
    // Tell JetStream the message is still being worked on, so a slow effect (a mail server taking
    // its time) is not redelivered to another copy while it runs.
    const progress = setInterval(() => msg.working(), ACK_WAIT_MS / 3);
    try {
      outcome = await options.handle(msg);
    } catch (err) {
      outcome = { kind: 'retry', reason: (err as Error).message };
      logger.warn({ err, consumer: name, subject: msg.subject, seq: msg.seq }, 'message handling failed; will retry');
    } finally {
      clearInterval(progress);
    }
    if (outcome.kind === 'ack') msg.ack();
    else if (outcome.kind === 'term') {
      logger.error({ consumer: name, subject: msg.subject, seq: msg.seq, reason: outcome.reason }, 'message can never be handled; dropped from the consumer (it stays in the stream)');
      msg.term(outcome.reason);
    } else if (outcome.kind === 'later') msg.nak(Math.max(1, Math.round(outcome.ms)));
    else msg.nak(retryDelayMs(msg.info.deliveryCount));
  };

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(stream, name);
        messages = await consumer.consume({ max_messages: 64, expires: 5_000 });
        // stop() may have run while consume() was being set up.
        if (stopped) {
          messages.stop();
          break;
        }
        for await (const msg of messages) {
          failures = 0;
          inFlight = process(msg);
          await inFlight;
          if (stopped) break;
        }
      } catch (err) {
        if (stopped) break;
        failures++;
        logger.warn({ err, consumer: name, failures }, 'durable consumer interrupted; re-binding');
      }
      if (!stopped) await sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
    }
  };
  const done = loop();

  return {
    async stop() {
      stopped = true;
      messages?.stop();
      await inFlight.catch(() => undefined);
      await done;
    },
  };
}
