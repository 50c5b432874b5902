// Ingest across a restart of a Mosquitto that keeps sessions on disk: Mosquitto 2.0.11 restores the
// persistent sessions but not their `$share/...` subscriptions, so a copy must subscribe again on
// every connect even when the broker says its session is present.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, TELEMETRY_STREAM, telemetrySubject, type PlantsConfig } from '@mes/contracts';
import { HealthRegistry, JetStreamEventStore, createLogger, loadConfig, provisionTopology, type EventStore } from '@mes/platform';
import { startMosquitto, startNatsServer, type MosquittoHandle, type NatsServerHandle } from '@mes/platform/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIngest, type IngestService } from './startIngest.js';

const plants: PlantsConfig = {
  plants: {
    P1: {
      approvers: [{ email: 'alice@plant.example', name: 'Alice' }],
      approvalTimeout: 'PT30M',
      approvalTimeoutMs: 30 * 60 * 1000,
      resources: [],
      rules: [{ when: { machineStatus: 'Fault' }, action: 'maintenance', reason: 'Machine fault' }],
    },
  },
};

const reading = (messageId: string) =>
  JSON.stringify({ machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100, productionActual: 95, messageId });

describe('ingest across a Mosquitto restart (persistence on)', () => {
  let nats: NatsServerHandle;
  let broker: MosquittoHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let eventStore: EventStore;
  const copies: IngestService[] = [];

  async function storedOn(machineId: string): Promise<number> {
    const subject = telemetrySubject('P1', machineId);
    const info = await jsm.streams.info(TELEMETRY_STREAM, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  /** Publishes probe readings until one is stored: fails if no copy receives anything (bounded). */
  async function untilIngestReceives(what: string): Promise<void> {
    const machine = `probe-${randomUUID().slice(0, 8)}`;
    const publisher = await mqtt.connectAsync(broker.url, { clientId: `probe-${randomUUID().slice(0, 8)}` });
    try {
      const deadline = Date.now() + 20_000;
      for (let i = 0; (await storedOn(machine)) === 0; i++) {
        if (Date.now() > deadline) throw new Error(`no ingest copy received a reading ${what} (20 s of probes)`);
        await publisher.publishAsync(`mes/P1/${machine}/telemetry`, reading(`probe-${i}`), { qos: 1 });
        await sleep(200);
      }
    } finally {
      await publisher.endAsync();
    }
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    broker = await startMosquitto({ persistence: true });
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    await provisionTopology(nc, jsm, { dedupeWindowMs: 2 * 60 * 1000 });
    eventStore = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
    const config = loadConfig({ NATS_URL: nats.url, MQTT_URL: broker.url });
    const group = `restart-${randomUUID().slice(0, 8)}`;
    for (const n of [1, 2]) {
      copies.push(
        await startIngest(
          { config, plants, logger: createLogger({ service: `ingest-${n}`, level: 'silent' }), nc, eventStore, health: new HealthRegistry() },
          { clientId: `${group}-copy-${n}`, sharedGroup: group, ackTimeoutMs: 1_000 },
        ),
      );
    }
  });

  afterAll(async () => {
    for (const copy of copies) await copy.stop();
    await eventStore?.close();
    await nc?.close();
    await broker?.dispose();
    await nats?.dispose();
  });

  it('subscribes again on reconnect, so every reading acknowledged afterwards is stored', async () => {
    await untilIngestReceives('before the restart');
    await broker.restart();
    await untilIngestReceives('after the broker restarted with their sessions present');

    const received = copies.map((copy) => copy.metrics().received);
    const machine = `M-${randomUUID().slice(0, 8)}`;
    const device = await mqtt.connectAsync(broker.url, { clientId: `device-${machine}` });
    let acknowledged = 0;
    for (let i = 0; i < 200; i++) {
      await device.publishAsync(`mes/P1/${machine}/telemetry`, reading(`r-${i}`), { qos: 1 });
      acknowledged++;
    }
    await device.endAsync();

    const deadline = Date.now() + 20_000;
    while ((await storedOn(machine)) < acknowledged && Date.now() < deadline) await sleep(50);
    expect(await storedOn(machine)).toBe(acknowledged);
    // Both copies are back in the shared group: the broker dealt readings to each.
    copies.forEach((copy, i) => expect(copy.metrics().received, `copy ${i + 1}`).toBeGreaterThan(received[i]!));
  });
});
