import { connect } from '@nats-io/transport-node';
import mqtt from 'mqtt';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMosquitto, type MosquittoHandle } from './mosquitto.js';
import { startNatsServer } from './natsServer.js';
import { requireBinary } from './processHarness.js';
import { startSmtpCapture } from './smtpCapture.js';

describe('test harness', () => {
  it('names a missing binary and how to install it', () => {
    expect(() => requireBinary('mes-no-such-binary', 'apt-get install -y mes-no-such-binary')).toThrow(
      'mes-no-such-binary was not found on the PATH; the integration tests need it. Install it: apt-get install -y mes-no-such-binary',
    );
  });

  it('runs an isolated nats-server that can be stopped and started on the same port and store', async () => {
    const server = await startNatsServer();
    try {
      const nc = await connect({ servers: server.url });
      expect(nc.getServer()).toBe(`127.0.0.1:${server.port}`);
      await nc.close();
      await server.stop();
      await expect(connect({ servers: server.url, reconnect: false, timeout: 500 })).rejects.toThrow();
      await server.start();
      const again = await connect({ servers: server.url });
      const info = again.info;
      expect(info?.jetstream).toBe(true);
      await again.close();
    } finally {
      await server.dispose();
    }
  });

  describe('Mosquitto', () => {
    let broker: MosquittoHandle;
    beforeAll(async () => {
      broker = await startMosquitto();
    });
    afterAll(async () => {
      await broker?.dispose();
    });

    it('delivers a QoS 1 message, and again after a restart', async () => {
      for (const round of [1, 2]) {
        const subscriber = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
        const publisher = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
        const received = new Promise<string>((resolve) => subscriber.on('message', (_topic, payload) => resolve(payload.toString())));
        await subscriber.subscribeAsync('mes/+/+/telemetry', { qos: 1 });
        await publisher.publishAsync('mes/P1/M-1/telemetry', `round ${round}`, { qos: 1 });
        expect(await received).toBe(`round ${round}`);
        await subscriber.endAsync();
        await publisher.endAsync();
        if (round === 1) await broker.restart();
      }
    });
  });
});

describe('SMTP capture', () => {
  it('keeps running when a client resets its connection mid-session (a killed service copy), and takes the next mail', async () => {
    const smtp = await startSmtpCapture();
    try {
      const { port } = new URL(smtp.url);
      const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
      await once(socket, 'data'); // the greeting
      socket.write('EHLO killed.example\r\nMAIL FROM:<a@example.com>\r\n');
      await once(socket, 'data');
      socket.resetAndDestroy();
      await once(socket, 'close');

      // The next client's mail, spoken by hand: one command, one reply.
      const next = createConnection({ host: '127.0.0.1', port: Number(port) });
      await once(next, 'data');
      for (const line of ['EHLO next.example', 'MAIL FROM:<a@example.com>', 'RCPT TO:<b@example.com>', 'DATA', 'Subject: after the reset\r\n\r\nstill here\r\n.', 'QUIT']) {
        next.write(`${line}\r\n`);
        await once(next, 'data');
      }
      next.destroy();
      const [mail] = await smtp.waitFor(1);
      expect(mail?.subject).toBe('after the reset');
    } finally {
      await smtp.close();
    }
  });
});
