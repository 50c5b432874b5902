// Reading a range of the log through a consumer of our own, where nats-server 2.9 miscounts what a
// filtered consumer starting mid-stream has pending (it counts matching messages before its start).
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import { firstSequenceAtOrAfter, readRange } from './jetStreamLog.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'RANGE', subjects: ['rng.>'] });
});
afterAll(async () => {
  await nc?.close();
  await server?.dispose();
});

async function read(filter: string, from: number): Promise<string[]> {
  const subjects: string[] = [];
  for await (const msg of readRange(js, jsm, 'RANGE', filter, from)) subjects.push(`${msg.seq} ${msg.subject}`);
  return subjects;
}

describe('reading a range of the log', () => {
  it('reads exactly the matching messages from a sequence in the middle, with a wildcard filter (where the server miscounts what is pending)', async () => {
    for (let round = 0; round < 10; round++) {
      const plant = `P${round}`;
      for (let i = 0; i < 20; i++) await js.publish(`rng.X${round}.order.${i}`, 'filler');
      for (const stream of ['workflow.A', 'order.A', 'workflow.A', 'order.A']) await js.publish(`rng.${plant}.${stream}`, 'before');
      const expected: string[] = [];
      const middle = (await js.publish(`rng.${plant}.workflow.B`, 'from')).seq;
      expected.push(`${middle} rng.${plant}.workflow.B`);
      for (const stream of ['workflow.C', 'order.B', 'workflow.B', 'order.B', 'workflow.A']) {
        const { seq } = await js.publish(`rng.${plant}.${stream}`, 'after');
        if (stream.startsWith('workflow.')) expected.push(`${seq} rng.${plant}.${stream}`);
      }
      await js.publish(`rng.${plant}.order.C`, 'last, not matching');
      expect(await read(`rng.${plant}.workflow.>`, middle)).toEqual(expected);
      expect(await read(`rng.${plant}.workflow.>`, middle + 1000)).toEqual([]);
    }
  });

  it('finds the first sequence stored at or after a time', async () => {
    const before = (await js.publish('rng.T.a', '1')).seq;
    await new Promise((resolve) => setTimeout(resolve, 30));
    const time = new Date();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const after = (await js.publish('rng.T.b', '2')).seq;
    const found = await firstSequenceAtOrAfter(jsm, 'RANGE', time);
    expect(found).toBeGreaterThan(before);
    expect(found).toBeLessThanOrEqual(after);
    expect(await firstSequenceAtOrAfter(jsm, 'RANGE', new Date(Date.now() + 60_000))).toBe(after + 1);
    expect(await firstSequenceAtOrAfter(jsm, 'RANGE', new Date(0))).toBe(1);
  });
});
