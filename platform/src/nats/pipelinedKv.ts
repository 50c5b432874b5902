// A JetStream KV bucket whose compare-and-set writes go through the windowed publisher (a KV put is
// a JetStream publish on the bucket's subject for the key): the KV client's request per put cost a
// large share of ingest's CPU in its benchmark. Reads and watches are the KV client's own.
import { JetStreamApiCodes } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamRefusedError, type JetStreamAckPublisher } from './jetStreamAckPublisher.js';

export class PipelinedKv {
  private constructor(
    /** The KV client of the bucket, for reads and watches. */
    readonly kv: KV,
    private readonly bucket: string,
    private readonly publisher: JetStreamAckPublisher,
  ) {}

  /** Opens an existing bucket (provisioning creates them). */
  static async open(nc: NatsConnection, bucket: string, publisher: JetStreamAckPublisher): Promise<PipelinedKv> {
    return new PipelinedKv(await new Kvm(nc).open(bucket), bucket, publisher);
  }

  /**
   * Writes `value` if the key's entry is still at `revision` (0: the key was never written).
   * Returns the new revision, or 'conflict' when another writer got there first. `writeId` makes a
   * resend of the same write a no-op.
   */
  async compareAndSet(key: string, value: Uint8Array, revision: number, writeId: string): Promise<number | 'conflict'> {
    try {
      const ack = await this.publisher.publish(`$KV.${this.bucket}.${key}`, value, { msgId: writeId, expectLastSubjectSequence: revision, failOnRefusal: true });
      return ack.seq;
    } catch (err) {
      if (err instanceof JetStreamRefusedError && (err.errCode === JetStreamApiCodes.StreamWrongLastSequence || err.errCode === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) return 'conflict';
      throw err;
    }
  }
}
