// The KV bucket `mes_order_index` (written by the maintenance service when it opens an order):
// `{orderId}` -> plant, machine and workflow, so an order's streams can be found from its id alone.
import { ORDER_INDEX_BUCKET } from '@mes/contracts';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { OrderIndex, OrderLocation } from '../application/audit.js';

const KEY = /^[A-Za-z0-9_-]{1,64}$/;

export function kvOrderIndex(nc: NatsConnection): OrderIndex {
  let bucket: Promise<KV> | undefined;
  // Opened lazily, and never created: a reader must not make the bucket appear.
  const kv = () => {
    bucket ??= new Kvm(nc).open(ORDER_INDEX_BUCKET).catch((err: unknown) => {
      bucket = undefined;
      throw err;
    });
    return bucket;
  };
  const entryOf = (orderId: string, value: { json<T>(): T }): OrderLocation => ({ orderId, ...value.json<Omit<OrderLocation, 'orderId'>>() });
  return {
    async find(orderId) {
      if (!KEY.test(orderId)) return undefined;
      const entry = await (await kv()).get(orderId);
      if (!entry || entry.operation !== 'PUT') return undefined;
      return entryOf(orderId, entry);
    },
    async *all() {
      const bucket = await kv();
      for await (const key of await bucket.keys()) {
        const entry = await bucket.get(key);
        if (entry && entry.operation === 'PUT') yield entryOf(key, entry);
      }
    },
  };
}
