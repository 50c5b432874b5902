// The process's NATS connection writes what one turn of the event loop queued in one socket write,
// in order, and still answers requests and survives a server restart.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../runtime/logger.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { connectNats, drainNats } from './connection.js';

const logger = createLogger({ service: 'connection-test', level: 'silent' });
let server: NatsServerHandle;
let nc: NatsConnection;
let listener: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ url: server.url, name: 'coalesce-test', logger });
  listener = await connect({ servers: server.url });
});
afterAll(async () => {
  await drainNats(nc);
  await listener?.close();
  await server?.dispose();
});

/** Counts the writes to the connection's current socket (the client's internals; the test fails if they move). */
function countSocketWrites(connection: NatsConnection): { count(): number; restore(): void } {
  const socket = (connection as unknown as { protocol: { transport: { socket: { write: (...args: unknown[]) => boolean } } } }).protocol.transport.socket;
  const write = socket.write;
  let writes = 0;
  socket.write = function (this: unknown, ...args: unknown[]) {
    writes++;
    return write.apply(this, args);
  };
  return { count: () => writes, restore: () => void (socket.write = write) };
}

describe('the NATS connection of a process', () => {
  it('sends a thousand publishes made in as many microtasks of one turn in one write, in order', async () => {
    const received: string[] = [];
    const sub = listener.subscribe('coalesce.order', { max: 1000, callback: (_err, msg) => { received.push(msg.string()); } });
    await listener.flush();
    const writes = countSocketWrites(nc);
    try {
      for (let i = 0; i < 1000; i++) {
        nc.publish('coalesce.order', String(i));
        await Promise.resolve();
      }
      await nc.flush();
      await sub.closed;
      expect(received).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
      // The publishes in one write, the flush's PING in another: without coalescing, one per microtask.
      expect(writes.count()).toBeLessThanOrEqual(3);
    } finally {
      writes.restore();
    }
  });

  it('writes a queue past the client\'s limit at once, and answers requests', async () => {
    const big = 'x'.repeat(64 * 1024);
    const sub = listener.subscribe('coalesce.big', { max: 20 });
    let bytes = 0;
    const done = (async () => {
      for await (const msg of sub) bytes += msg.data.length;
    })();
    await listener.flush();
    for (let i = 0; i < 20; i++) nc.publish('coalesce.big', big);
    await done;
    expect(bytes).toBe(20 * big.length);

    const echo = listener.subscribe('coalesce.echo', { callback: (_err, msg) => { msg.respond(msg.data); } });
    await listener.flush();
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => nc.request('coalesce.echo', String(i), { timeout: 5_000 })));
    expect(replies.map((r) => r.string())).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    echo.unsubscribe();
  });

  it('keeps coalescing on the new socket after the server restarts', async () => {
    await server.restart();
    const replies: string[] = [];
    const echo = listener.subscribe('coalesce.after', { callback: (_err, msg) => { msg.respond(msg.data); } });
    for (let attempt = 0; ; attempt++) {
      try {
        await listener.flush();
        replies.push((await nc.request('coalesce.after', 'again', { timeout: 1_000 })).string());
        break;
      } catch (err) {
        if (attempt > 30) throw err;
      }
    }
    expect(replies).toEqual(['again']);
    const writes = countSocketWrites(nc);
    try {
      for (let i = 0; i < 200; i++) {
        nc.publish('coalesce.none', String(i));
        await Promise.resolve();
      }
      await nc.flush();
      expect(writes.count()).toBeLessThanOrEqual(3);
    } finally {
      writes.restore();
      echo.unsubscribe();
    }
  });
});
