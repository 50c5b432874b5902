// A durable JetStream consumer worked by key: messages of one key (an aggregate, a workflow) are
// handled one at a time, in the order they arrived; messages of different keys run concurrently,
// up to a bound. Ack after the effect commits, nak with a growing delay on failure, term a message
// that can never succeed (STYLE.md item 7). It survives NATS restarts: if the message iterator
// ends, it re-binds with a backoff.
//
// Order per key holds within a copy, across failures too: a key whose message failed holds its
// later messages back (they are nakked to come after it). Across copies JetStream hands messages to
// whichever copy pulls, so correctness stays with expected revisions and idempotent effects, never
// with delivery order.
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
  /**
   * The key whose messages must be handled in order; messages of other keys run concurrently.
   * Default: one key for all, so messages are handled strictly one at a time.
   */
  keyOf?: (msg: JsMsg) => string;
  /** Most messages being handled at once, over all keys. Default 64 with `keyOf`, else 1. */
  concurrency?: number;
}

export interface DurableWorker {
  stop(): Promise<void>;
}

/** Delay before redelivering a message that failed `deliveryCount` times: 0.5 s doubling to 30 s. */
export function retryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, deliveryCount - 1));
}

/** How much after a failed message's return a message held back behind it comes back. */
const HELD_BACK_MS = 50;

export async function startDurableWorker(options: DurableWorkerOptions): Promise<DurableWorker> {
  const { nc, stream, logger } = options;
  const name = options.consumer.durable_name;
  const keyOf = options.keyOf ?? (() => '');
  const concurrency = Math.max(1, options.concurrency ?? (options.keyOf === undefined ? 1 : 64));
  // A copy that dies holding a message (or a pending pull) has it redelivered after ack_wait; keep
  // that short, and extend it while a message is held here (handled, or queued behind its key).
  await ensureDurableConsumer(await jetstreamManager(nc), stream, {
    ack_wait: nanos(ACK_WAIT_MS),
    ...options.consumer,
    max_ack_pending: Math.max(options.consumer.max_ack_pending ?? 0, concurrency),
  });
  const js = jetstream(nc);
  let stopped = false;
  let messages: ConsumerMessages | undefined;

  /** Messages taken from the consumer and not yet settled: kept alive with progress notices. */
  const held = new Set<JsMsg>();
  /** The last message of each key in line: the next one of the key waits for it. */
  const tails = new Map<string, Promise<void>>();
  /** Keys whose message failed: which one (stream sequence), and when it comes back. */
  const blocked = new Map<string, { seq: number; until: number }>();
  let active = 0;
  let slotFreed: (() => void) | undefined;
  const progress = setInterval(() => {
    for (const msg of held) msg.working();
  }, ACK_WAIT_MS / 3);
  progress.unref();

  const settle = (msg: JsMsg, key: string, outcome: WorkOutcome): void => {
    if (outcome.kind === 'ack') msg.ack();
    else if (outcome.kind === 'term') {
      logger.error({ consumer: name, subject: msg.subject, seq: msg.seq, reason: outcome.reason }, 'message can never be handled; dropped from the consumer (it stays in the stream)');
      msg.term(outcome.reason);
    } else if (outcome.kind === 'later') msg.nak(Math.max(1, Math.round(outcome.ms)));
    else {
      const delay = retryDelayMs(msg.info.deliveryCount);
      blocked.set(key, { seq: msg.seq, until: Date.now() + delay });
      msg.nak(delay);
    }
  };

  const process = async (msg: JsMsg, key: string): Promise<void> => {
    const block = blocked.get(key);
    if (block !== undefined) {
      const now = Date.now();
      // Held back until the failed message is back and handled; not for ever, should another copy take it.
      if (msg.seq !== block.seq && now < block.until + ACK_WAIT_MS) {
        msg.nak(Math.max(HELD_BACK_MS, block.until - now + HELD_BACK_MS));
        return;
      }
      blocked.delete(key);
    }
    let outcome: WorkOutcome;
    try {
      outcome = await options.handle(msg);
    } catch (err) {
      outcome = { kind: 'retry', reason: (err as Error).message };
      logger.warn({ err, consumer: name, subject: msg.subject, seq: msg.seq }, 'message handling failed; will retry');
    }
    settle(msg, key, outcome);
  };

  const dispatch = (msg: JsMsg): void => {
    let key: string;
    try {
      key = keyOf(msg);
    } catch (err) {
      settle(msg, '', { kind: 'term', reason: `no key for the message: ${(err as Error).message}` });
      return;
    }
    held.add(msg);
    active++;
    const previous = tails.get(key) ?? Promise.resolve();
    const done = previous.then(() => process(msg, key));
    tails.set(key, done);
    void done.finally(() => {
      held.delete(msg);
      active--;
      if (tails.get(key) === done) tails.delete(key);
      slotFreed?.();
    });
  };

  const slot = async (): Promise<void> => {
    while (active >= concurrency && !stopped) await new Promise<void>((resolve) => (slotFreed = resolve));
  };

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(stream, name);
        messages = await consumer.consume({ max_messages: Math.max(64, concurrency), expires: 5_000 });
        // stop() may have run while consume() was being set up.
        if (stopped) {
          messages.stop();
          break;
        }
        for await (const msg of messages) {
          failures = 0;
          await slot();
          if (stopped) {
            // Not ours to handle any more: back to the consumer for another copy.
            msg.nak();
            break;
          }
          dispatch(msg);
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
      slotFreed?.();
      await Promise.all([...tails.values()].map((tail) => tail.catch(() => undefined)));
      await done;
      clearInterval(progress);
    },
  };
}
