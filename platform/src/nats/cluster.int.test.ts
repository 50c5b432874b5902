// NATS_REPLICAS and NATS_URL lists against a real three-node JetStream cluster on loopback.
import { COMMANDS_STREAM, EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, serviceCommandsFilter, streamName } from '@mes/contracts';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamEventStore } from '../eventStore/jetStreamEventStore.js';
import { createLogger } from '../runtime/logger.js';
import { newEvent, uniquePlant } from '../testing/eventStoreContract.js';
import { eventually } from '../testing/flowFixture.js';
import { startNatsCluster, type NatsClusterHandle } from '../testing/natsCluster.js';
import { connectNats, drainNats, NatsUnreachableError } from './connection.js';
import { ensureDurableConsumer, provisionTopology, ReplicasUnavailableError, TOPOLOGY_BUCKETS, topologyStreams } from './topology.js';

const logger = createLogger({ service: 'cluster-test', level: 'silent' });
const TOPOLOGY = { dedupeWindowMs: 120_000 };
const streamNames = [...topologyStreams(TOPOLOGY).map((s) => s.name), ...TOPOLOGY_BUCKETS.map((b) => `KV_${b.bucket}`)];

/** Servers holding a copy of the stream: its leader and its other replicas. */
async function peersOf(jsm: JetStreamManager, stream: string): Promise<number> {
  const { cluster } = await jsm.streams.info(stream);
  return (cluster?.leader ? 1 : 0) + (cluster?.replicas?.length ?? 0);
}

describe('a three-node JetStream cluster', () => {
  let cluster: NatsClusterHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    cluster = await startNatsCluster();
    nc = await connectNats({ url: cluster.url, name: 'cluster-test', logger });
    jsm = await jetstreamManager(nc, { timeout: 10_000 });
  });
  afterAll(async () => {
    if (nc) await drainNats(nc);
    await cluster?.dispose();
  });

  describe('with NATS_REPLICAS=1 first', () => {
    it('creates every stream and bucket with one replica', async () => {
      const report = await provisionTopology(nc, jsm, { ...TOPOLOGY, replicas: 1 });
      expect(report.created).toHaveLength(streamNames.length);
      for (const name of streamNames) expect(await peersOf(jsm, name)).toBe(1);
    });
  });

  describe('when NATS_REPLICAS becomes 3', () => {
    it('updates every existing stream and bucket in place, and says so', async () => {
      const consumer = await ensureDurableConsumer(jsm, COMMANDS_STREAM, {
        durable_name: 'maintenance-P1',
        filter_subject: serviceCommandsFilter('P1', 'maintenance'),
        ack_policy: AckPolicy.Explicit,
      });
      expect(consumer.config.num_replicas).toBe(0);

      const report = await provisionTopology(nc, jsm, { ...TOPOLOGY, replicas: 3 });
      expect(report.created).toEqual([]);
      expect(report.updated).toEqual(expect.arrayContaining([`stream ${EVENTS_STREAM}: num_replicas 1 -> 3`, 'kv mes_open_workflows: num_replicas 1 -> 3']));
      expect(report.updated).toHaveLength(streamNames.length);
      for (const name of streamNames) expect(await peersOf(jsm, name)).toBe(3);

      // Durable consumers keep num_replicas 0 and follow their stream (once they elected a leader).
      const placement = await eventually('the consumer to elect a leader', async () => {
        const info = await jsm.consumers.info(COMMANDS_STREAM, 'maintenance-P1').catch(() => undefined);
        return info?.cluster?.leader ? info.cluster : undefined;
      });
      expect((placement.replicas ?? []).map((r) => r.name).concat(placement.leader ?? '').sort()).toEqual(cluster.nodes.map((n) => n.name).sort());

      const again = await provisionTopology(nc, jsm, { ...TOPOLOGY, replicas: 3 });
      expect(again.updated).toEqual([]);
    });
  });

  describe('with a replica count the cluster cannot hold', () => {
    it('refuses NATS_REPLICAS=5 naming the variable and the cluster size', async () => {
      const error = await provisionTopology(nc, jsm, { ...TOPOLOGY, replicas: 5 }).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ReplicasUnavailableError);
      expect((error as Error).message).toMatch(/^NATS_REPLICAS=5 is more than the NATS cluster mes-test \(3 servers known to mes-test-n\d\) can hold now: stream MES_EVENTS needs 5 servers/);
      expect(await peersOf(jsm, EVENTS_STREAM)).toBe(3);
    });
  });

  describe('with one node of three down', () => {
    it('starts a copy whose NATS_URL lists all three, and refuses clearly when none answers', async () => {
      // The last one: a NATS_URL list read as one URL (the old bug) ended up at the last server.
      const down = cluster.nodes[2]!;
      await down.stop();
      try {
        // The client tries the servers in random order: several connections must all find a live one.
        for (let i = 0; i < 5; i++) {
          const copy = await connectNats({ url: cluster.url, name: `late-copy-${i}`, logger, initialTimeoutMs: 2_000 });
          expect(copy.info?.server_name).not.toBe(down.name);
          await provisionTopology(copy, await jetstreamManager(copy, { timeout: 10_000 }), { ...TOPOLOGY, replicas: 3 });
          await drainNats(copy);
        }
        const downUrls = `${down.url},nats://127.0.0.1:1`;
        const error = await connectNats({ url: downUrls, name: 'nothing-up', logger, initialTimeoutMs: 1_000 }).catch((err: unknown) => err);
        expect(error).toBeInstanceOf(NatsUnreachableError);
        expect((error as Error).message).toContain(`cannot reach any of the 2 NATS servers ${downUrls} (NATS_URL)`);
      } finally {
        await down.start();
        await cluster.waitForReplicasCurrent();
      }
    });

    it('reads an aggregate stream of an R3 event stream through its single-replica in-memory consumer', async () => {
      const store = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
      const plant = uniquePlant();
      const order = streamName(plant, 'order', 'MO_1');
      await store.appendToStream(order, [newEvent('A', { n: 1 }), newEvent('B', { n: 2 })], { expectedRevision: 'no_stream' });
      await store.appendToStream(streamName(plant, 'order', 'MO_2'), [newEvent('C', { n: 3 })], { expectedRevision: 'no_stream' });
      await cluster.nodes[1]!.stop();
      try {
        // Reads fail only while the cluster elects new leaders (a few seconds).
        const read = await eventually('a read while a node is down', () => store.readStream(order).catch(() => undefined), 30_000);
        expect(read.events.map((e) => e.type)).toEqual(['A', 'B']);
      } finally {
        await cluster.nodes[1]!.start();
        await cluster.waitForReplicasCurrent();
        await store.close();
      }
    });
  });

  describe('losing one node of three with NATS_REPLICAS=3', () => {
    it('loses no acknowledged message when the stream leader is killed mid-stream', async () => {
      await provisionTopology(nc, jsm, { ...TOPOLOGY, replicas: 3 });
      const js = jetstream(nc, { timeout: 2_000 });
      const subject = `cmd.${uniquePlant()}.maintenance.Probe`;
      const acked = new Set<string>();
      const publishOne = async (id: string) => {
        // A publish in doubt (timed out in the election) is sent again with the same id, as the services do.
        const deadline = Date.now() + 30_000;
        for (;;) {
          try {
            await js.publish(subject, id, { msgID: id });
            acked.add(id);
            return;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await sleep(100);
          }
        }
      };
      for (let i = 0; i < 200; i++) await publishOne(`before-${i}`);
      const leader = (await jsm.streams.info(COMMANDS_STREAM)).cluster?.leader;
      const victim = cluster.nodes.find((node) => node.name === leader)!;
      await victim.kill();
      try {
        for (let i = 0; i < 200; i++) await publishOne(`during-${i}`);
      } finally {
        await victim.start();
      }
      await cluster.waitForReplicasCurrent();
      // Then lose each of the two other nodes in turn: what is left (including the node that was
      // down) still holds every acknowledged message.
      for (const other of cluster.nodes.filter((node) => node !== victim)) {
        await other.kill();
        try {
          const stored = await storedIds(jsm, subject);
          expect([...acked].filter((id) => !stored.has(id))).toEqual([]);
          expect(stored.size).toBe(acked.size);
        } finally {
          await other.start();
          await cluster.waitForReplicasCurrent();
        }
      }
    }, 180_000);
  });
});

/**
 * The payloads stored on `subject`, read message by message from the stream leader (no consumer:
 * on 2.9.10 a new consumer may be placed on the node that is down, see the report of issue 12).
 */
async function storedIds(jsm: JetStreamManager, subject: string): Promise<Set<string>> {
  const state = await eventually('the stream to answer', () => jsm.streams.info(COMMANDS_STREAM).then((info) => info.state, () => undefined), 30_000);
  const ids = new Set<string>();
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await eventually(`message ${seq}`, () => jsm.streams.getMessage(COMMANDS_STREAM, { seq }).catch(() => undefined), 30_000);
    if (msg?.subject === subject) ids.add(msg.string());
  }
  return ids;
}
