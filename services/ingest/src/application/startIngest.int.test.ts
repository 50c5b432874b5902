// Ingest against a real nats-server and Mosquitto: storage, dedupe, dead letters, condition
// changes, a NATS outage, graceful stop, shared subscriptions and PUBACK timing.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  EVENTS_STREAM,
  EVENTS_SUBJECT_PREFIX,
  EventEnvelopeSchema,
  MACHINE_CONDITIONS_BUCKET,
  TELEMETRY_STREAM,
  TelemetryReadingSchema,
  telemetrySubject,
  type PlantsConfig,
} from '@mes/contracts';
import { HealthRegistry, JetStreamEventStore, createLogger, createMetrics, loadConfig, provisionTopology, type EventStore } from '@mes/platform';
import { startMosquitto, startNatsServer, withOverrides, type MosquittoHandle, type NatsServerHandle } from '@mes/platform/testing';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../adapters/deadLetterLog.js';
import { startIngest, type IngestOptions, type IngestService } from './startIngest.js';

const plant = (threshold: number) => ({
  approvers: [{ email: 'alice@plant.example', name: 'Alice' }],
  approvalTimeout: 'PT30M',
  approvalTimeoutMs: 30 * 60 * 1000,
  resources: [],
  rules: [
    { when: { machineStatus: 'Fault' as const }, action: 'maintenance' as const, reason: 'Machine fault' },
    { when: { productionRatioBelow: threshold }, action: 'maintenance' as const, reason: 'Output low' },
  ],
});
const plants: PlantsConfig = { plants: { P1: plant(0.8), P2: plant(0.75), P3: { ...plant(0.8), machines: ['M-A', 'M-B'] } } };

function reading(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 100, productionActual: 95, ...overrides });
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(25);
  }
}

describe('ingest service', () => {
  let nats: NatsServerHandle;
  let broker: MosquittoHandle;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let eventStore: EventStore;
  let publisher: MqttClient;
  const running: IngestService[] = [];

  const machine = () => `M-${randomUUID().slice(0, 8)}`;

  /**
   * Each service gets a shared-subscription group of its own unless the test names one: a stopped
   * copy's persistent session stays in its group and would take its share of later tests' messages.
   */
  async function startService(options: IngestOptions = {}, store: EventStore = eventStore): Promise<IngestService> {
    const config = loadConfig({ NATS_URL: nats.url, MQTT_URL: broker.url });
    const logger = createLogger({ service: 'test', level: 'silent' });
    const service = await startIngest(
      { config, plants, logger, nc, eventStore: store, health: new HealthRegistry() },
      { clientId: `test-ingest-${randomUUID().slice(0, 8)}`, sharedGroup: `test-${randomUUID().slice(0, 8)}`, ackTimeoutMs: 1_000, ...options },
    );
    running.push(service);
    return service;
  }

  async function stopService(service: IngestService): Promise<void> {
    running.splice(running.indexOf(service), 1);
    await service.stop();
  }

  async function storedOn(subject: string): Promise<number> {
    const info = await jsm.streams.info(TELEMETRY_STREAM, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  }

  async function send(topic: string, payload: string | Buffer): Promise<void> {
    await publisher.publishAsync(topic, payload, { qos: 1 });
  }

  beforeAll(async () => {
    nats = await startNatsServer();
    broker = await startMosquitto();
    nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    jsm = await jetstreamManager(nc);
    await provisionTopology(nc, jsm, { dedupeWindowMs: 2 * 60 * 1000 });
    eventStore = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
    publisher = await mqtt.connectAsync(broker.url, { clientId: `test-publisher-${randomUUID().slice(0, 8)}` });
  });

  afterEach(async () => {
    for (const service of running.splice(0)) await service.stop();
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await eventStore?.close();
    await nc?.close();
    await broker?.dispose();
    await nats?.dispose();
  });

  describe('with valid readings', () => {
    it('stores a reading once in MES_TELEMETRY, in a MachineReadingRecorded envelope', async () => {
      const service = await startService();
      const m = machine();
      await send(`mes/P1/${m}/telemetry`, reading({ messageId: 'r-1', timestamp: '2026-11-25T11:00:00+01:00' }));
      await until('the reading is stored', async () => (await storedOn(telemetrySubject('P1', m))) === 1);

      const stored = await jsm.streams.getMessage(TELEMETRY_STREAM, { last_by_subj: telemetrySubject('P1', m) });
      expect(stored?.header.get('Nats-Msg-Id')).toBe(`P1/${m}/r-1`);
      const envelope = EventEnvelopeSchema.parse(stored?.json());
      expect(envelope).toMatchObject({
        type: 'MachineReadingRecorded',
        version: 1,
        stream: `P1.machine.${m}`,
        occurredAt: '2026-11-25T10:00:00.000Z',
        correlationId: envelope.eventId,
        causationId: null,
        actor: { kind: 'device', id: m },
      });
      expect(envelope.eventId).toMatch(/^[0-9a-f-]{36}$/);
      expect(TelemetryReadingSchema.parse(envelope.data)).toMatchObject({ plantId: 'P1', machineId: m, machineStatus: 'Running', messageId: 'r-1', timestampSource: 'device' });
      await until('its condition is recorded too', () => service.metrics().inFlight === 0);
      expect(service.metrics()).toMatchObject({ received: 1, accepted: 1, deadLetters: 0, statusChanges: 1, sharedSubscription: true });
    });

    it('stores the same messageId from one machine once', async () => {
      const service = await startService();
      const m = machine();
      await send(`mes/P1/${m}/telemetry`, reading({ messageId: 'dup-1' }));
      await send(`mes/P1/${m}/telemetry`, reading({ messageId: 'dup-1', productionActual: 10 }));
      await until('both copies are handled', () => service.metrics().received === 2 && service.metrics().inFlight === 0);
      expect(await storedOn(telemetrySubject('P1', m))).toBe(1);
      expect(service.metrics()).toMatchObject({ accepted: 1, duplicates: 1 });
    });

    it('stores the same messageId from two machines twice', async () => {
      const service = await startService();
      const [a, b] = [machine(), machine()];
      await send(`mes/P1/${a}/telemetry`, reading({ messageId: 'same' }));
      await send(`mes/P1/${b}/telemetry`, reading({ messageId: 'same' }));
      await until('both are handled', () => service.metrics().received === 2 && service.metrics().inFlight === 0);
      expect(await storedOn(telemetrySubject('P1', a))).toBe(1);
      expect(await storedOn(telemetrySubject('P1', b))).toBe(1);
    });
  });

  describe('with rejected messages', () => {
    it('records each as a dead letter with its reason, newest first, and keeps accepting readings', async () => {
      const service = await startService();
      const m = machine();
      const topic = `mes/P2/${m}/telemetry`;
      const rejected: [string, string | Buffer, RegExp][] = [
        [topic, Buffer.alloc(70 * 1024, 0x20), /payload is 71680 bytes; the limit is 65536 bytes/],
        [topic, '{"machineStatus": "Running",', /payload is not valid JSON/],
        [topic, reading({ machineStatus: 'Exploded' }), /machineStatus: must be one of Running, Idle, Fault, Maintenance, Offline \(got "Exploded"\)/],
        [topic, reading({ productionActual: -3 }), /productionActual: must be a number >= 0 \(got -3\)/],
        [topic, reading({ plantId: 'P1' }), /plantId "P1" in the payload does not match "P2" in the topic/],
        ['mes/P2/bad.id/telemetry', reading(), /machineId "bad.id" must be 1 to 64 characters/],
      ];
      for (const [t, payload] of rejected) await send(t, payload);
      await until('every message is handled', () => service.metrics().received === rejected.length && service.metrics().inFlight === 0);
      expect(service.metrics().deadLetters).toBe(rejected.length);

      const letters = await listDeadLetters(nc, { limit: rejected.length, plantId: 'P2' });
      expect(letters).toHaveLength(rejected.length);
      const newestFirst = [...rejected].reverse();
      letters.forEach((letter, index) => {
        const [t, payload, reason] = newestFirst[index]!;
        expect(letter.topic).toBe(t);
        expect(letter.reason).toMatch(reason);
        expect(letter.plantId).toBe('P2');
        if (typeof payload === 'string') expect(letter.payload).toBe(payload);
      });
      expect(letters[letters.length - 1]).toMatchObject({ truncated: true, payloadBytes: 70 * 1024, encoding: 'utf8' });
      expect(letters[letters.length - 1]!.payload).toHaveLength(64 * 1024);
      expect(letters.map((l) => l.sequence)).toEqual([...letters.map((l) => l.sequence)].sort((x, y) => y - x));
      expect(await listDeadLetters(nc, { limit: 2, plantId: 'P2' })).toEqual(letters.slice(0, 2));

      await send(topic, reading({ messageId: 'after-the-bad-ones' }));
      await until('the valid reading is stored', async () => (await storedOn(telemetrySubject('P2', m))) === 1);
    });

    it('warns at the default log level: the first rejection of a plant at once, the rest summed up per interval, and counts them per plant', async () => {
      const lines: { level: number; msg: string; plantId?: string; deadLetters?: number }[] = [];
      const destination = { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) };
      const config = loadConfig({ NATS_URL: nats.url, MQTT_URL: broker.url });
      const metrics = createMetrics();
      const health = new HealthRegistry();
      const service = await startIngest(
        { config, plants, logger: createLogger({ service: 'test', destination }), nc, eventStore, health, metrics },
        { clientId: `test-ingest-${randomUUID().slice(0, 8)}`, sharedGroup: `test-${randomUUID().slice(0, 8)}`, deadLetterWarningIntervalMs: 2_000 },
      );
      running.push(service);
      const topic = `mes/P1/${machine()}/telemetry`;
      for (const status of ['Exploded', 'Melted', 'Vanished']) await send(topic, reading({ machineStatus: status }));
      await until('all are handled', () => service.metrics().deadLetters === 3 && service.metrics().inFlight === 0);
      const warnings = () => lines.filter((line) => line.level === 40 && line.plantId === 'P1');
      await until('the summary is logged', () => warnings().length === 2);
      expect(warnings()[0]!.msg).toMatch(/^reading dead-lettered in plant P1: machineStatus: must be one of .* \(got "Exploded"\) \(more in this plant are summed up every 2 s; GET \/api\/dead-letters lists them\)$/);
      expect(warnings()[1]).toMatchObject({ deadLetters: 2, msg: expect.stringMatching(/^2 readings dead-lettered in plant P1 in the last 2 s, last reason: machineStatus: .*"Vanished"/) });
      expect(await metrics.registry.getSingleMetricAsString('mes_readings_dead_lettered_total')).toContain('mes_readings_dead_lettered_total{plant="P1"} 3');
      // /health says so too, with counts only (it answers without a token), and stays healthy.
      const report = await health.run();
      expect(report.notices?.deadLetters).toEqual({ count: 3, lastAt: expect.stringMatching(/Z$/), see: '/api/dead-letters' });
      expect(JSON.stringify(report)).not.toContain('Vanished');
      expect(report.checks.mqtt).toEqual({ ok: true });

      // Made-up plants share one label and one warning.
      for (const madeUp of ['Made1', 'Made2', 'Made3']) await send(`mes/${madeUp}/${machine()}/telemetry`, reading());
      await until('they are handled', () => service.metrics().deadLetters === 6 && service.metrics().inFlight === 0);
      const counted = await metrics.registry.getSingleMetricAsString('mes_readings_dead_lettered_total');
      expect(counted).toContain('mes_readings_dead_lettered_total{plant="_unknown"} 3');
      expect(counted).not.toContain('Made');
      // One warning at once (a summary may follow when the interval ends), not one per made-up plant.
      expect(lines.filter((line) => line.level === 40 && line.plantId === '_unknown').length).toBeLessThan(3);
    });

    it('rejects a plant that is not in the plant configuration', async () => {
      const service = await startService();
      await send(`mes/P9/${machine()}/telemetry`, reading());
      await until('it is handled', () => service.metrics().deadLetters === 1 && service.metrics().inFlight === 0);
      // Other plants' dead letters (P2, from the test before) exist, and the filter leaves them out.
      const letters = await listDeadLetters(nc, { limit: 100, plantId: 'P9' });
      expect(letters).toHaveLength(1);
      expect(letters[0]?.reason).toBe('plant "P9" is not in the plant configuration (known plants: P1, P2, P3)');
      expect((await listDeadLetters(nc, { limit: 100 })).map((l) => l.plantId)).toEqual(expect.arrayContaining(['P9', 'P2']));
    });
  });

  describe('with a plant that lists its machines', () => {
    it('dead-letters a reading of any other machine as an unknown machine, and stores the listed ones', async () => {
      const service = await startService();
      await send('mes/P3/M-A/telemetry', reading());
      await send('mes/P3/M-Z/telemetry', reading());
      await until('both are handled', () => service.metrics().accepted + service.metrics().deadLetters >= 2 && service.metrics().inFlight === 0);
      expect(service.metrics()).toMatchObject({ accepted: 1, deadLetters: 1 });
      expect(await storedOn(telemetrySubject('P3', 'M-A'))).toBe(1);
      expect(await storedOn(telemetrySubject('P3', 'M-Z'))).toBe(0);
      const [letter] = await listDeadLetters(nc, { limit: 10, plantId: 'P3' });
      expect(letter).toMatchObject({ reason: 'unknown machine', topic: 'mes/P3/M-Z/telemetry' });
    });
  });

  describe('with readings of many machines', () => {
    it('keeps a bounded number of machines in memory, and still reports the change of one it forgot', async () => {
      const service = await startService({ maxTrackedMachines: 5 });
      const machines = Array.from({ length: 20 }, () => machine());
      for (const id of machines) await send(`mes/P1/${id}/telemetry`, reading());
      await until('every reading is handled', () => service.metrics().accepted === 20 && service.metrics().statusChanges === 20 && service.metrics().inFlight === 0);
      expect(service.metrics().trackedMachines).toBeLessThanOrEqual(5);

      // The first machine was forgotten: its last condition comes back from KV, so this is one change from Running.
      await send(`mes/P1/${machines[0]!}/telemetry`, reading({ machineStatus: 'Fault' }));
      await until('the change is reported', () => service.metrics().statusChanges === 21);
      const { events } = await eventStore.readStream(`P1.machine.${machines[0]!}`);
      expect(events.map((e) => (e.data as { previous: { machineStatus: string } | null }).previous?.machineStatus ?? null)).toEqual([null, 'Running']);
      // A repeat of a forgotten machine's condition reports nothing.
      await send(`mes/P1/${machines[1]!}/telemetry`, reading());
      await until('it is handled', () => service.metrics().accepted === 22 && service.metrics().inFlight === 0);
      expect(service.metrics().statusChanges).toBe(21);
    });
  });

  describe('with condition changes', () => {
    it('appends one MachineStatusChanged per change, none for a repeated condition', async () => {
      const service = await startService();
      const m = machine();
      const topic = `mes/P1/${m}/telemetry`;
      const changes = async () => (await eventStore.readStream(`P1.machine.${m}`)).events;

      await send(topic, reading({ messageId: 'c-1' }));
      await until('the first condition is reported', async () => (await changes()).length === 1);
      await send(topic, reading({ messageId: 'c-2', productionActual: 97 }));
      await until('the repeat is handled', () => service.metrics().received === 2 && service.metrics().inFlight === 0);
      await send(topic, reading({ messageId: 'c-3', machineStatus: 'Fault' }));
      await until('the fault is reported', async () => (await changes()).length === 2);
      await until('everything is handled', () => service.metrics().inFlight === 0);

      const events = await changes();
      expect(events.map((e) => e.type)).toEqual(['MachineStatusChanged', 'MachineStatusChanged']);
      expect(events[0]!.data).toMatchObject({ plantId: 'P1', machineId: m, previous: null, current: { machineStatus: 'Running', qualityTrend: 'Stable', productionBand: 'onTarget' } });
      expect(events[1]!.data).toMatchObject({ previous: { machineStatus: 'Running' }, current: { machineStatus: 'Fault' }, reading: { messageId: 'c-3' } });
      expect(events[1]!.causationId).not.toBeNull();
      expect(service.metrics().statusChanges).toBe(2);

      const kv = await new Kvm(nc).open(MACHINE_CONDITIONS_BUCKET);
      const entry = await kv.get(`P1.${m}`);
      expect(entry?.json<{ observed: { condition: { machineStatus: string } }; event: { eventId: string } }>()).toMatchObject({
        observed: { condition: { machineStatus: 'Fault' } },
        event: { eventId: events[1]!.eventId },
      });
    });

    it('reports a crossing of a plant threshold inside a contract band', async () => {
      const service = await startService();
      const m = machine();
      const topic = `mes/P2/${m}/telemetry`;
      await send(topic, reading({ productionActual: 79 }));
      await send(topic, reading({ productionActual: 70 }));
      await until('both are handled', () => service.metrics().received === 2 && service.metrics().inFlight === 0);
      const { events } = await eventStore.readStream(`P2.machine.${m}`);
      expect(events).toHaveLength(2);
      expect(events[1]!.data).toMatchObject({ previous: { productionBand: 'below80' }, current: { productionBand: 'below80' }, reading: { productionActual: 70 } });
    });

    it('reports every change of a burst of readings without device timestamps, even those received within one millisecond', async () => {
      const service = await startService();
      const m = machine();
      const topic = `mes/P1/${m}/telemetry`;
      // Alternating on target and below 80 %: each reading changes the condition.
      await Promise.all(Array.from({ length: 30 }, (_, i) => send(topic, reading({ messageId: `burst-${i}`, productionActual: i % 2 === 0 ? 95 : 70 }))));
      await until('all are handled', () => service.metrics().received === 30 && service.metrics().inFlight === 0);
      const { events } = await eventStore.readStream(`P1.machine.${m}`);
      expect(events.map((e) => (e.data as { reading: { messageId: string } }).reading.messageId)).toEqual(Array.from({ length: 30 }, (_, i) => `burst-${i}`));
    });

    it('ignores a reading older than the one that set the condition (handed over out of order)', async () => {
      const service = await startService();
      const m = machine();
      const topic = `mes/P1/${m}/telemetry`;
      // The device sent a normal reading, then a fault; a redelivery hands them over the other way round.
      await send(topic, reading({ messageId: 'late-2', machineStatus: 'Fault', timestamp: '2026-01-01T00:00:26.001Z' }));
      await until('the fault is reported', async () => (await eventStore.readStream(`P1.machine.${m}`)).events.length === 1);
      await send(topic, reading({ messageId: 'late-1', timestamp: '2026-01-01T00:00:26.000Z' }));
      await until('the older reading is handled', () => service.metrics().received === 2 && service.metrics().inFlight === 0);
      const { events } = await eventStore.readStream(`P1.machine.${m}`);
      expect(events.map((e) => (e.data as { current: { machineStatus: string } }).current.machineStatus)).toEqual(['Fault']);
      expect(await storedOn(telemetrySubject('P1', m))).toBe(2);
    });

    it('lets only one of two copies report a transition', async () => {
      const sharedGroup = `test-${randomUUID().slice(0, 8)}`;
      const [a, b] = [await startService({ sharedGroup }), await startService({ sharedGroup })];
      const m = machine();
      const topic = `mes/P1/${m}/telemetry`;
      for (let i = 0; i < 6; i++) await send(topic, reading({ messageId: `same-${i}`, machineStatus: 'Idle' }));
      await until('all are handled', () => a.metrics().received + b.metrics().received === 6 && a.metrics().inFlight + b.metrics().inFlight === 0);
      expect(a.metrics().received).toBeGreaterThan(0);
      expect(b.metrics().received).toBeGreaterThan(0);
      expect((await eventStore.readStream(`P1.machine.${m}`)).events).toHaveLength(1);
    });
  });

  describe('across outages and stops', () => {
    it('pauses while NATS is down and stores every reading exactly once after it is back', async () => {
      const service = await startService({ window: 10 });
      const m = machine();
      await nats.stop();
      for (let i = 0; i < 40; i++) {
        await send(`mes/P1/${m}/telemetry`, reading({ messageId: `outage-${i}` }));
        await sleep(50);
      }
      await until('the window is full and reading paused', () => service.metrics().paused);
      expect(service.metrics().inFlight).toBe(10);
      await nats.start();
      await until('every reading is stored', async () => (await storedOn(telemetrySubject('P1', m)).catch(() => 0)) >= 40, 40_000);
      await until('nothing is in flight', () => service.metrics().inFlight === 0);
      expect(await storedOn(telemetrySubject('P1', m))).toBe(40);
      expect(service.metrics()).toMatchObject({ received: 40, accepted: 40, paused: false });
    });

    it('waits on stop for the JetStream acks of readings in flight', async () => {
      const service = await startService({ stopTimeoutMs: 20_000 });
      const m = machine();
      await nats.stop();
      for (let i = 0; i < 3; i++) await send(`mes/P1/${m}/telemetry`, reading({ messageId: `stop-${i}` }));
      await until('all three are in flight', () => service.metrics().inFlight === 3);
      let stopped = false;
      const stopping = stopService(service).then(() => { stopped = true; });
      await sleep(1_000);
      expect(stopped).toBe(false);
      await nats.start();
      await stopping;
      expect(await storedOn(telemetrySubject('P1', m))).toBe(3);
    });

    it('does not PUBACK a reading before it is stored, so the broker delivers it again', async () => {
      const clientId = `test-ingest-${randomUUID().slice(0, 8)}`;
      const sharedGroup = `test-${randomUUID().slice(0, 8)}`;
      const first = await startService({ clientId, sharedGroup, stopTimeoutMs: 300 });
      const m = machine();
      await nats.stop();
      for (let i = 0; i < 5; i++) await send(`mes/P1/${m}/telemetry`, reading({ messageId: `held-${i}` }));
      await until('the five are in flight', () => first.metrics().inFlight === 5);
      // Stops without the acks: as after a crash, none of the five was PUBACKed.
      await stopService(first);
      await nats.start();
      await until('NATS answers again', async () => jsm.streams.info(TELEMETRY_STREAM).then(() => true, () => false));
      expect(await storedOn(telemetrySubject('P1', m))).toBe(0);

      const second = await startService({ clientId, sharedGroup });
      await until('the broker delivered the five again and they are stored', async () => (await storedOn(telemetrySubject('P1', m))) === 5);
      await until('nothing is in flight', () => second.metrics().inFlight === 0);
      expect(second.metrics().accepted).toBe(5);
    });
  });

  describe('when a copy dies between storing a reading and recording its condition change', () => {
    it('leaves the reading with the broker, and the copy it comes back to records the change once', async () => {
      const clientId = `test-ingest-${randomUUID().slice(0, 8)}`;
      const sharedGroup = `test-${randomUUID().slice(0, 8)}`;
      // The first copy's appends never finish: it dies (is stopped) before the change is recorded.
      const dying = withOverrides(eventStore, { appendToStream: () => new Promise(() => undefined) });
      const first = await startService({ clientId, sharedGroup, stopTimeoutMs: 300 }, dying);
      const m = machine();
      await send(`mes/P1/${m}/telemetry`, reading({ machineStatus: 'Fault', messageId: 'fault-then-crash' }));
      await until('the reading is stored', async () => (await storedOn(telemetrySubject('P1', m))) === 1);
      await sleep(300);
      await stopService(first);
      expect((await eventStore.readStream(`P1.machine.${m}`)).events).toEqual([]);

      const second = await startService({ clientId, sharedGroup });
      await until('the change is recorded', async () => (await eventStore.readStream(`P1.machine.${m}`)).events.length > 0);
      await until('nothing is in flight', () => second.metrics().inFlight === 0);
      await sleep(300);
      const { events } = await eventStore.readStream(`P1.machine.${m}`);
      expect(events.map((e) => [e.type, (e.data as { current: { machineStatus: string } }).current.machineStatus])).toEqual([['MachineStatusChanged', 'Fault']]);
      expect(await storedOn(telemetrySubject('P1', m))).toBe(1);
      expect(second.metrics().duplicates).toBe(1);
    });
  });

  describe('with several copies', () => {
    it('splits readings over the copies through the shared subscription', async () => {
      const sharedGroup = `test-${randomUUID().slice(0, 8)}`;
      const copies = [await startService({ sharedGroup }), await startService({ sharedGroup })];
      const machines = Array.from({ length: 20 }, () => machine());
      for (const m of machines) await send(`mes/P1/${m}/telemetry`, reading({ messageId: 'split' }));
      await until('all are handled', () => copies.reduce((sum, c) => sum + c.metrics().received, 0) === 20 && copies.every((c) => c.metrics().inFlight === 0));
      for (const copy of copies) {
        expect(copy.metrics().sharedSubscription).toBe(true);
        expect(copy.metrics().received).toBeGreaterThan(0);
      }
      for (const m of machines) expect(await storedOn(telemetrySubject('P1', m))).toBe(1);
    });
  });
});
