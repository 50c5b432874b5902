// The embedded broker with real MQTT clients on loopback: MQTT 3.1.1 and MQTT 5 clients talk to each
// other, a shared subscription behaves as a plain one (and survives a persistent session), and stop
// closes the port.
import { freePort } from '@mes/platform/testing';
import mqtt, { type MqttClient } from 'mqtt';
import { createConnection } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmbeddedMqttBroker, type EmbeddedMqttBroker } from './embeddedMqttBroker.js';
import { answers } from './tcp.js';

describe('embedded MQTT broker', () => {
  let port: number;
  let url: string;
  let broker: EmbeddedMqttBroker | undefined;
  const clients: MqttClient[] = [];

  const connect = async (options: mqtt.IClientOptions) => {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5_000, ...options });
    clients.push(client);
    return client;
  };
  const nextMessage = (client: MqttClient) =>
    new Promise<{ topic: string; payload: string; qos: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no message reached ${client.options.clientId} within 5 s`)), 5_000);
      client.once('message', (topic, payload, packet) => {
        clearTimeout(timer);
        resolve({ topic, payload: payload.toString(), qos: packet.qos });
      });
    });

  beforeEach(async () => {
    port = await freePort();
    url = `mqtt://127.0.0.1:${port}`;
    broker = await startEmbeddedMqttBroker({ host: '127.0.0.1', port });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true).catch(() => undefined)));
    await broker?.stop();
  });

  it('carries messages between MQTT 3.1.1 and MQTT 5 clients, at QoS 0, 1 and 2', async () => {
    const v5 = await connect({ protocolVersion: 5, clientId: 'v5-client' });
    const v4 = await connect({ protocolVersion: 4, clientId: 'v4-client' });
    await v5.subscribeAsync('to-v5/#', { qos: 2 });
    await v4.subscribeAsync('to-v4/#', { qos: 2 });
    for (const qos of [0, 1, 2] as const) {
      const atV5 = nextMessage(v5);
      await v4.publishAsync(`to-v5/q${qos}`, `from v4 at ${qos}`, { qos });
      expect(await atV5).toEqual({ topic: `to-v5/q${qos}`, payload: `from v4 at ${qos}`, qos });
      const atV4 = nextMessage(v4);
      await v5.publishAsync(`to-v4/q${qos}`, `from v5 at ${qos}`, { qos, properties: { userProperties: { dropped: 'yes' } } });
      expect(await atV4).toEqual({ topic: `to-v4/q${qos}`, payload: `from v5 at ${qos}`, qos });
    }
    await v5.unsubscribeAsync('to-v5/#');
    let received = 0;
    v5.on('message', () => received++);
    await v4.publishAsync('to-v5/after', 'not delivered', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toBe(0);
  });

  it('takes a shared subscription as a plain one, kept in an MQTT 5 persistent session across a reconnect', async () => {
    const session = { protocolVersion: 5 as const, clientId: 'ingest-like', clean: false, properties: { sessionExpiryInterval: 600 } };
    const subscriber = await connect(session);
    const granted = await subscriber.subscribeAsync('$share/mes-ingest/mes/+/+/telemetry', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    const edge = await connect({ protocolVersion: 4 });
    const first = nextMessage(subscriber);
    await edge.publishAsync('mes/P1/M-1/telemetry', 'one', { qos: 1 });
    expect(await first).toMatchObject({ topic: 'mes/P1/M-1/telemetry', payload: 'one', qos: 1 });

    await subscriber.endAsync();
    await edge.publishAsync('mes/P1/M-1/telemetry', 'while away', { qos: 1 });
    const again = mqtt.connect(url, { ...session, reconnectPeriod: 0 });
    clients.push(again);
    const queued = nextMessage(again);
    const connack = await new Promise<{ sessionPresent: boolean }>((resolve) => again.once('connect', resolve));
    expect(connack.sessionPresent).toBe(true);
    expect(await queued).toMatchObject({ payload: 'while away', qos: 1 });
  });

  it('closes a connection that does not speak MQTT', async () => {
    const closed = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(true));
      setTimeout(() => resolve(false), 5_000);
    });
    expect(closed).toBe(true);
  });

  it('frees its port on stop, with clients still connected', async () => {
    await connect({ protocolVersion: 5 });
    await connect({ protocolVersion: 4 });
    await broker!.stop();
    broker = undefined;
    expect(await answers('127.0.0.1', port, 500)).toBe(false);
  });
});
