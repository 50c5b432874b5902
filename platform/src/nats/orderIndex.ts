// The KV bucket `mes_order_index`: `{orderId}` -> plant, machine and workflow, so an order's
// streams can be found from its id alone (the HTTP API and the CLI know only the order id).
// The maintenance service records an entry when it opens an order; everyone else only reads.
import { IDENTIFIER_PATTERN, ORDER_INDEX_BUCKET, type OrderLocation } from '@mes/contracts';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

export class OrderIndex {
  private bucket: Promise<KV> | undefined;

  constructor(private readonly nc: NatsConnection) {}

  /** Opened on first use, and never created: a reader must not make the bucket appear (provisioning does). */
  private kv(): Promise<KV> {
    this.bucket ??= new Kvm(this.nc).open(ORDER_INDEX_BUCKET).catch((err: unknown) => {
      this.bucket = undefined;
      throw err;
    });
    return this.bucket;
  }

  async record(location: OrderLocation): Promise<void> {
    const { orderId, ...entry } = location;
    await (await this.kv()).put(orderId, JSON.stringify(entry));
  }

  /** Where the order is; undefined when no order with that id was ever opened. */
  async find(orderId: string): Promise<OrderLocation | undefined> {
    if (!IDENTIFIER_PATTERN.test(orderId)) return undefined;
    const entry = await (await this.kv()).get(orderId);
    if (!entry || entry.operation !== 'PUT') return undefined;
    return { orderId, ...entry.json<Omit<OrderLocation, 'orderId'>>() };
  }

  async *all(): AsyncGenerator<OrderLocation> {
    const bucket = await this.kv();
    for await (const key of await bucket.keys()) {
      const entry = await bucket.get(key);
      if (entry && entry.operation === 'PUT') yield { orderId: key, ...entry.json<Omit<OrderLocation, 'orderId'>>() };
    }
  }
}
