import { COMMANDS_STREAM, type Command } from '@mes/contracts';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../domain/decider.js';
import type { NewEvent, RecordedDomainEvent } from '../eventStore/eventStore.js';
import { JetStreamEventStore } from '../eventStore/jetStreamEventStore.js';
import { provisionTopology } from '../nats/topology.js';
import { createLogger } from '../runtime/logger.js';
import { newEvent, waitFor } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { sendCommand, startCommandHandlers } from './commandBus.js';
import { startEventConsumer } from './eventConsumer.js';

const logger = createLogger({ service: 'test', level: 'silent' });

function completeOrder(plantId: string, orderId: string, commandId = `complete-${orderId}`): Command {
  return {
    type: 'CompleteMaintenanceOrder',
    version: 1,
    commandId,
    correlationId: `wf-${orderId}`,
    plantId,
    issuedAt: new Date().toISOString(),
    actor: { kind: 'service', id: 'test' },
    orderId,
  } as Command;
}

describe('messaging over JetStream', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });

  describe('commands', () => {
    it('delivers a command to its service once, even when sent twice', async () => {
      const received: Command[] = [];
      const handlers = await startCommandHandlers({ nc, service: 'maintenance', plants: ['P1'], logger, handle: async (c) => void received.push(c) });
      const first = await sendCommand(nc, completeOrder('P1', 'MO_1'));
      const again = await sendCommand(nc, completeOrder('P1', 'MO_1'));
      expect(again).toMatchObject({ duplicate: true, seq: first.seq });
      await waitFor(received, 1);
      await sleep(300);
      await handlers.stop();
      expect(received.map((c) => c.commandId)).toEqual(['complete-MO_1']);
    });

    it('routes by plant: a handler for P1 never sees P2\'s commands', async () => {
      const received: Command[] = [];
      const handlers = await startCommandHandlers({ nc, service: 'maintenance', plants: ['P2'], logger, handle: async (c) => void received.push(c) });
      await sendCommand(nc, completeOrder('P3', 'MO_3'));
      await sendCommand(nc, completeOrder('P2', 'MO_2'));
      await waitFor(received, 1);
      await sleep(300);
      await handlers.stop();
      expect(received.map((c) => c.plantId)).toEqual(['P2']);
    });

    it('retries a command whose handler failed, and does not retry a refusal', async () => {
      const attempts = new Map<string, number>();
      const maintenance = await startCommandHandlers({
        nc,
        service: 'maintenance',
        plants: ['P4'],
        logger,
        handle: async (c) => {
          const n = (attempts.get(c.commandId) ?? 0) + 1;
          attempts.set(c.commandId, n);
          if (c.commandId === 'flaky' && n < 3) throw new Error('database briefly away');
          if (c.commandId === 'refused') throw new DomainError('ORDER_CLOSED', 'order MO_9 is Completed');
        },
      });
      await sendCommand(nc, completeOrder('P4', 'MO_8', 'flaky'));
      await sendCommand(nc, completeOrder('P4', 'MO_9', 'refused'));
      const deadline = Date.now() + 15_000;
      while ((attempts.get('flaky') ?? 0) < 3 && Date.now() < deadline) await sleep(50);
      await sleep(1_500);
      await maintenance.stop();
      expect(attempts.get('flaky')).toBe(3);
      expect(attempts.get('refused')).toBe(1);
    });

    it('refuses to send an invalid command', async () => {
      await expect(sendCommand(nc, { ...completeOrder('P1', 'MO_1'), plantId: 'bad plant' } as Command)).rejects.toThrow();
    });

    it('keeps handling commands across a nats-server restart', async () => {
      const received: Command[] = [];
      const handlers = await startCommandHandlers({ nc, service: 'resources', plants: ['P5'], logger, handle: async (c) => void received.push(c) });
      const release = (n: number): Command => ({ ...completeOrder('P5', `MO_${n}`, `release-${n}`), type: 'ReleaseResources' }) as Command;
      await sendCommand(nc, release(1));
      await waitFor(received, 1);
      await server.restart();
      for (let attempt = 0; ; attempt++) {
        try {
          await sendCommand(nc, release(2));
          break;
        } catch (err) {
          if (attempt > 50) throw err;
          await sleep(200);
        }
      }
      await waitFor(received, 2, 30_000);
      await handlers.stop();
      expect(received.map((c) => c.commandId)).toEqual(['release-1', 'release-2']);
      const info = await (await jetstreamManager(nc)).consumers.info(COMMANDS_STREAM, 'resources-P5');
      expect(info.num_pending + info.num_ack_pending).toBe(0);
    });
  });

  describe('event consumer', () => {
    it('follows the log per plant, in order, and resumes after a stop without repeats', async () => {
      const store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
      const seen: string[] = [];
      const start = () => startEventConsumer({ nc, name: 'test', plants: ['P1'], logger, handle: async (e) => void seen.push(markerOf(e)) });
      let consumer = await start();
      await store.appendToStream('P1.order.MO_a', [expired('A'), expired('B')], { expectedRevision: 'no_stream' });
      await store.appendToStream('P2.order.MO_a', [expired('X')], { expectedRevision: 'no_stream' });
      await waitFor(seen, 2);
      await consumer.stop();
      await store.appendToStream('P1.order.MO_b', [expired('C')], { expectedRevision: 'no_stream' });
      consumer = await start();
      await waitFor(seen, 3);
      await sleep(300);
      await consumer.stop();
      expect(seen).toEqual(['A', 'B', 'C']);
    });

    it('with a category, is sent only the events of that category\'s streams, also when its consumer existed with the whole plant before', async () => {
      const store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
      const seen: string[] = [];
      const whole = await startEventConsumer({ nc, name: 'narrowed', plants: ['P8'], logger, handle: async (e) => void seen.push(`whole ${markerOf(e)}`) });
      await store.appendToStream('P8.order.MO_w', [expired('W')], { expectedRevision: 'any' });
      await waitFor(seen, 1);
      await whole.stop();
      const consumer = await startEventConsumer({ nc, name: 'narrowed', plants: ['P8'], category: 'approval', logger, handle: async (e) => void seen.push(markerOf(e)) });
      try {
        await store.appendToStream('P8.order.MO_a', [expired('A')], { expectedRevision: 'any' });
        await store.appendToStream('P8.approval.MO_b', [expired('B')], { expectedRevision: 'any' });
        await store.appendToStream('P8.workflow.WF_c', [expired('C')], { expectedRevision: 'any' });
        await store.appendToStream('P8.approval.MO_d', [expired('D')], { expectedRevision: 'any' });
        await waitFor(seen, 3);
        await sleep(300);
        expect(seen).toEqual(['whole W', 'B', 'D']);
        const info = await (await jetstreamManager(nc)).consumers.info('MES_EVENTS', 'narrowed-events-P8');
        expect(info.config.filter_subject).toBe('es.P8.approval.>');
      } finally {
        await consumer.stop();
      }
    });

    it('redelivers an event whose handler failed, in order', async () => {
      const store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
      const seen: string[] = [];
      let failOnce = true;
      const consumer = await startEventConsumer({
        nc,
        name: 'flaky',
        plants: ['P6'],
        logger,
        handle: async (e) => {
          if (markerOf(e) === 'B' && failOnce) {
            failOnce = false;
            throw new Error('projection briefly failed');
          }
          seen.push(markerOf(e));
        },
      });
      await store.appendToStream('P6.order.MO_x', [expired('A')], { expectedRevision: 'any' });
      await store.appendToStream('P6.order.MO_x', [expired('B')], { expectedRevision: 'any' });
      await store.appendToStream('P6.order.MO_x', [expired('C')], { expectedRevision: 'any' });
      await waitFor(seen, 3, 15_000);
      await consumer.stop();
      expect(seen).toEqual(['A', 'B', 'C']);
    });

    it('delivers each event as its contract type, and holds back one this build cannot read until it can', async () => {
      const store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
      const seen: string[] = [];
      const consumer = await startEventConsumer({ nc, name: 'strict', plants: ['P7'], logger, handle: async (e) => void seen.push(markerOf(e)) });
      try {
        await store.appendToStream('P7.order.MO_y', [expired('A')], { expectedRevision: 'any' });
        await store.appendToStream('P7.order.MO_y', [newEvent('EventOfANewerBuild', { x: 1 })], { expectedRevision: 'any' });
        await store.appendToStream('P7.order.MO_y', [expired('C')], { expectedRevision: 'any' });
        await waitFor(seen, 1);
        await sleep(1_000);
        // In log order: nothing after the unreadable event is delivered around it.
        expect(seen).toEqual(['A']);
      } finally {
        await consumer.stop();
      }
    });

    it('passes over the events it does not want without parsing them, and keys events by their envelope', async () => {
      const store = new JetStreamEventStore({ nc, stream: 'MES_EVENTS', subjectPrefix: 'es' });
      const seen: string[] = [];
      const keys: string[] = [];
      const consumer = await startEventConsumer({
        nc,
        name: 'picky',
        plants: ['P9'],
        logger,
        // An event of a type this build cannot parse, not wanted: it must not hold back the ones after it.
        wants: (event) => event.type !== 'EventOfANewerBuild',
        keyOf: (event) => {
          keys.push(`${event.type}@${event.stream}`);
          return event.stream;
        },
        handle: async (e) => void seen.push(markerOf(e)),
      });
      try {
        await store.appendToStream('P9.order.MO_z', [expired('A')], { expectedRevision: 'any' });
        await store.appendToStream('P9.order.MO_z', [newEvent('EventOfANewerBuild', { x: 1 })], { expectedRevision: 'any' });
        await store.appendToStream('P9.order.MO_z', [expired('C')], { expectedRevision: 'any' });
        await waitFor(seen, 2);
        expect(seen).toEqual(['A', 'C']);
        expect(keys).toContain('EventOfANewerBuild@P9.order.MO_z');
      } finally {
        await consumer.stop();
      }
    });
  });
});

/** A contract event that carries a marker in its order id. */
function expired(marker: string): NewEvent {
  return newEvent('MaintenanceOrderExpired', { orderId: `MO_${marker}`, expiredAt: new Date().toISOString() });
}

function markerOf(event: RecordedDomainEvent): string {
  return event.type === 'MaintenanceOrderExpired' ? event.data.orderId.slice('MO_'.length) : event.type;
}

describe('durable worker stop', () => {
  it('stops promptly when stopped right after starting, before any message', async () => {
    const server = await startNatsServer();
    const nc = await connect({ servers: server.url });
    try {
      await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 120_000 });
      const handlers = await startCommandHandlers({ nc, service: 'approvals', plants: ['P1'], logger, handle: async () => undefined });
      const stopped = await Promise.race([handlers.stop().then(() => 'stopped'), sleep(10_000).then(() => 'hung')]);
      expect(stopped).toBe('stopped');
    } finally {
      await nc.close();
      await server.dispose();
    }
  });
});
