// The MQTT source against a real Mosquitto: the broker sends no more un-PUBACKed messages than
// the Receive Maximum, and held PUBACKs go out in arrival order once their messages are stored
// (or the earlier ones given up on), however the messages were stored.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '@mes/platform';
import { startMosquitto, type MosquittoHandle } from '@mes/platform/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MqttTelemetrySource } from './mqttTelemetrySource.js';

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe('MqttTelemetrySource', () => {
  let broker: MosquittoHandle;
  let publisher: MqttClient;
  const sources: MqttTelemetrySource[] = [];

  beforeAll(async () => {
    broker = await startMosquitto();
    publisher = await mqtt.connectAsync(broker.url, { clientId: `test-publisher-${randomUUID().slice(0, 8)}` });
  });

  afterEach(async () => {
    for (const source of sources.splice(0)) await source.stop();
  });

  afterAll(async () => {
    await publisher?.endAsync();
    await broker?.dispose();
  });

  interface Received {
    topic: string;
    stored(): void;
    abandoned(): void;
  }

  async function startSource(receiveMaximum: number, pubackOrderWaitMs?: number): Promise<{ received: Received[] }> {
    const received: Received[] = [];
    const source = new MqttTelemetrySource({
      url: broker.url,
      clientId: `test-source-${randomUUID().slice(0, 8)}`,
      topicFilters: ['mes/+/+/telemetry'],
      sharedGroup: `test-${randomUUID().slice(0, 8)}`,
      sessionExpirySeconds: 60,
      logger: createLogger({ service: 'test', level: 'silent' }),
      hasRoom: () => true,
      receiveMaximum,
      ...(pubackOrderWaitMs === undefined ? {} : { pubackOrderWaitMs }),
      onMessage: (message, settle) => received.push({ topic: message.topic, stored: () => settle(true), abandoned: () => settle(false) }),
    });
    sources.push(source);
    await source.start(10_000);
    return { received };
  }

  it('receives no more unacknowledged messages than its Receive Maximum, and sends every held PUBACK, whatever order they are stored in', async () => {
    const { received } = await startSource(2);
    const topics = Array.from({ length: 8 }, (_, i) => `mes/P1/M-${i}/telemetry`);
    for (const topic of topics.slice(0, 6)) await publisher.publishAsync(topic, '{}', { qos: 1 });
    await until('two arrived', () => received.length >= 2);
    // Without the limit the broker sends all six at once (its default for an MQTT 5 client is 65535).
    await sleep(200);
    expect(received.map((m) => m.topic)).toEqual(topics.slice(0, 2));

    // Stored out of order (and some twice): each PUBACK goes out once, so the broker, which holds
    // back what exceeds the limit, keeps delivering until every message has arrived.
    received[1]!.stored();
    received[0]!.stored();
    received[0]!.stored();
    await until('a fourth arrived', () => received.length >= 4);
    for (;;) {
      for (const message of [...received].reverse()) message.stored();
      if (received.length === 6) break;
      const seen = received.length;
      await until('another one arrived', () => received.length > seen);
    }
    for (const topic of topics.slice(6)) await publisher.publishAsync(topic, '{}', { qos: 1 });
    await until('the last two arrived', () => received.length === 8);
    expect(received.map((m) => m.topic)).toEqual(topics);
  });

  it('holds the PUBACK of a stored message until every earlier message is stored or given up on', async () => {
    const { received } = await startSource(2);
    const topics = Array.from({ length: 5 }, (_, i) => `mes/P1/M-${i}/telemetry`);
    for (const topic of topics) await publisher.publishAsync(topic, '{}', { qos: 1 });
    await until('two arrived', () => received.length >= 2);

    // The second is stored, the first is not yet: no PUBACK leaves, so the broker sends nothing more.
    received[1]!.stored();
    await sleep(200);
    expect(received).toHaveLength(2);

    // The first is given up on (it stays unacknowledged, holding one place): the second's PUBACK no
    // longer waits for it, which frees the other place.
    received[0]!.abandoned();
    await until('a third arrived', () => received.length >= 3);

    for (;;) {
      for (const message of received.slice(2)) message.stored();
      if (received.length === 5) break;
      const seen = received.length;
      await until('another one arrived', () => received.length > seen);
    }
    expect(received.map((m) => m.topic)).toEqual(topics);
  });

  it('stops holding later PUBACKs back for a message that stays unsettled too long', async () => {
    const { received } = await startSource(2, 100);
    const topics = Array.from({ length: 4 }, (_, i) => `mes/P1/M-${i}/telemetry`);
    for (const topic of topics) await publisher.publishAsync(topic, '{}', { qos: 1 });
    await until('two arrived', () => received.length >= 2);

    // The first stays unsettled (its condition change keeps failing, say): after the wait the
    // second's PUBACK leaves without it, freeing a place.
    received[1]!.stored();
    await until('a third arrived', () => received.length >= 3);

    // Stored at last, the first is PUBACKed too, out of order.
    received[0]!.stored();
    for (;;) {
      for (const message of received.slice(2)) message.stored();
      if (received.length === 4) break;
      const seen = received.length;
      await until('another one arrived', () => received.length > seen);
    }
    expect(received.map((m) => m.topic)).toEqual(topics);
  });
});
