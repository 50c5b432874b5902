// Ingest against a broker that refuses shared subscriptions: it must fall back to a plain one
// and keep ingesting (the embedded broker can refuse them, as some brokers do).
import { TELEMETRY_STREAM, telemetrySubject } from '@mes/contracts';
import { startIngest } from '@mes/ingest';
import { createLogger, JetStreamEventStore, loadPlantConfigFile, EXAMPLE_PLANT_CONFIG_PATH, loadConfig, provisionTopology, HealthRegistry } from '@mes/platform';
import { freePort, startNatsServer, type NatsServerHandle } from '@mes/platform/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import mqtt from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedMqttBroker, type EmbeddedMqttBroker } from './embeddedMqttBroker.js';

describe('ingest with a broker that refuses shared subscriptions', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let broker: EmbeddedMqttBroker;
  let port: number;

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
    port = await freePort();
    broker = await startEmbeddedMqttBroker({ host: '127.0.0.1', port, sharedSubscriptions: 'refuse' });
  });
  afterAll(async () => {
    await broker?.stop();
    await nc?.close();
    await nats?.dispose();
  });

  it('subscribes plainly instead, and readings reach JetStream', async () => {
    const mqttUrl = `mqtt://127.0.0.1:${port}`;
    const ingest = await startIngest(
      {
        config: loadConfig({ NATS_URL: nats.url, MQTT_URL: mqttUrl }),
        plants: loadPlantConfigFile(EXAMPLE_PLANT_CONFIG_PATH),
        logger: createLogger({ service: 'test', level: (process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent' }),
        nc,
        eventStore: new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' }),
        health: new HealthRegistry(),
      },
      { clientId: 'fallback-test', connectTimeoutMs: 5_000 },
    );
    try {
      expect(ingest.metrics().sharedSubscription).toBe(false);
      const publisher = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0 });
      await publisher.publishAsync('mes/P1/M-1/telemetry', JSON.stringify({ machineStatus: 'Running', qualityTrend: 'Stable', productionTarget: 10, productionActual: 10 }), { qos: 1 });
      await publisher.endAsync();
      const jsm = await jetstreamManager(nc);
      let stored;
      for (let i = 0; i < 100 && !stored; i++) {
        stored = await jsm.streams.getMessage(TELEMETRY_STREAM, { last_by_subj: telemetrySubject('P1', 'M-1') }).catch(() => undefined);
        if (!stored) await sleep(50);
      }
      expect(stored?.json<{ data: { machineId: string } }>().data.machineId).toBe('M-1');
    } finally {
      await ingest.stop();
    }
  });
});
