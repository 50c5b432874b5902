import { COMMANDS_STREAM, EVENTS_STREAM, TELEMETRY_STREAM, commandSubject, serviceCommandsFilter } from '@mes/contracts';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { ensureDurableConsumer, provisionTopology, ReplicasUnavailableError, TOPOLOGY_BUCKETS, topologyStreams } from './topology.js';

describe('JetStream topology provisioning', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  it('creates every stream and bucket once, and changes nothing when run again', async () => {
    const first = await provisionTopology(nc, jsm, { dedupeWindowMs: 120_000 });
    const streams = topologyStreams({ dedupeWindowMs: 120_000 }).map((s) => `stream ${s.name}`);
    expect(first.created).toEqual([...streams, ...TOPOLOGY_BUCKETS.map((b) => `kv ${b.bucket}`)]);
    const second = await provisionTopology(nc, jsm, { dedupeWindowMs: 120_000 });
    expect(second).toEqual({ created: [], updated: [], unchanged: first.created });
  });

  it('makes the event stream append-only', async () => {
    const info = await jsm.streams.info(EVENTS_STREAM);
    expect(info.config).toMatchObject({ deny_delete: true, deny_purge: true, max_msgs_per_subject: -1 });
    await expect(jsm.streams.purge(EVENTS_STREAM)).rejects.toThrow();
  });

  it('updates a stream whose setting drifted (a new DEDUPE_WINDOW)', async () => {
    const report = await provisionTopology(nc, jsm, { dedupeWindowMs: 300_000 });
    expect(report.updated).toEqual([`stream ${TELEMETRY_STREAM}: duplicate_window ${nanos(120_000)} -> ${nanos(300_000)}`]);
    expect((await jsm.streams.info(TELEMETRY_STREAM)).config.duplicate_window).toBe(nanos(300_000));
  });

  it('refuses NATS_REPLICAS=3 on a server that is not clustered, before changing anything', async () => {
    const error = await provisionTopology(nc, jsm, { dedupeWindowMs: 300_000, replicas: 3 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ReplicasUnavailableError);
    expect((error as Error).message).toMatch(/^NATS_REPLICAS=3 needs a NATS cluster of at least 3 JetStream servers, but \S+ runs alone \(not clustered\)/);
    expect((await jsm.streams.info(EVENTS_STREAM)).config.num_replicas).toBe(1);
  });

  it('creates a durable consumer idempotently, filtering only its own subject', async () => {
    const config = {
      durable_name: 'maintenance-P1',
      filter_subject: serviceCommandsFilter('P1', 'maintenance'),
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 100,
    };
    const created = await ensureDurableConsumer(jsm, COMMANDS_STREAM, config);
    const again = await ensureDurableConsumer(jsm, COMMANDS_STREAM, config);
    expect(again.created).toEqual(created.created);
    expect(again.config.filter_subject).toBe('cmd.P1.maintenance.>');

    // The filter must hold on this server (ARCHITECTURE.md trap: a dropped filter mixes subjects).
    const js = jetstream(nc);
    await js.publish(commandSubject('P2', 'maintenance', 'OpenMaintenanceOrder'), JSON.stringify({ plant: 'P2' }));
    await js.publish(commandSubject('P1', 'approvals', 'RequestApproval'), JSON.stringify({ plant: 'P1', to: 'approvals' }));
    await js.publish(commandSubject('P1', 'maintenance', 'OpenMaintenanceOrder'), JSON.stringify({ plant: 'P1' }));
    const consumer = await js.consumers.get(COMMANDS_STREAM, 'maintenance-P1');
    const batch = await consumer.fetch({ max_messages: 10, expires: 1_000 });
    const subjects: string[] = [];
    for await (const msg of batch) {
      subjects.push(msg.subject);
      msg.ack();
    }
    expect(subjects).toEqual(['cmd.P1.maintenance.OpenMaintenanceOrder']);
  });
});
