// Where a JetStream-held log ends, for the projections status: the last message matching a filter
// and how many messages follow a sequence. Each question is one short-lived consumer (deleted
// after), so it costs the same however long the stream is.
import { decodeAppend, createOrderedConsumer, deleteConsumerQuietly } from '@mes/platform';
import { AckPolicy, DeliverPolicy, jetstream, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';

/** The last message of `stream` matching `filter`, or undefined when none does. */
export async function lastMessage(nc: NatsConnection, jsm: JetStreamManager, stream: string, filter: string): Promise<JsMsg | undefined> {
  const info = await jsm.consumers.add(stream, {
    filter_subject: filter,
    deliver_policy: DeliverPolicy.Last,
    ack_policy: AckPolicy.None,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(30_000),
  });
  try {
    if (info.num_pending === 0) return undefined;
    const consumer = await jetstream(nc).consumers.get(stream, info.name);
    const messages = await consumer.fetch({ max_messages: 1, expires: 2_000 });
    for await (const msg of messages) return msg;
    return undefined;
  } finally {
    deleteConsumerQuietly(jsm, stream, info.name);
  }
}

/** How many messages matching `filter` come after sequence `afterSeq`. */
export async function messagesAfter(jsm: JetStreamManager, stream: string, filter: string, afterSeq: number): Promise<number> {
  const { name, pending } = await createOrderedConsumer(jsm, stream, filter, afterSeq + 1);
  deleteConsumerQuietly(jsm, stream, name);
  return pending;
}

/** The position of the last event in an event-store message. */
export function lastEventPosition(msg: JsMsg): bigint | undefined {
  return decodeAppend(msg).at(-1)?.position;
}
