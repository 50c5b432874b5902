// Tampering with the event log the ways a person with write access to NATS could (CONTRACT §5):
// each is found by recomputing the chains, with the stream and position of the first break.
import { EVENTS_STREAM, EVENTS_SUBJECT_PREFIX } from '@mes/contracts';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionTopology } from '../nats/topology.js';
import { newEvent, uniquePlant } from '../testing/eventStoreContract.js';
import { startNatsServer, type NatsServerHandle } from '../testing/natsServer.js';
import type { RecordedEvent } from './eventStore.js';
import { JetStreamEventStore } from './jetStreamEventStore.js';
import { verifyChains } from './verifyChains.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let store: JetStreamEventStore;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  jsm = await jetstreamManager(nc);
  await provisionTopology(nc, jsm, { dedupeWindowMs: 120_000 });
  store = new JetStreamEventStore({ nc, stream: EVENTS_STREAM, subjectPrefix: EVENTS_SUBJECT_PREFIX });
});
afterAll(async () => {
  await store?.close();
  await nc?.close();
  await server?.dispose();
});

/** An order stream of five events, written through the store as the services do. */
async function writtenOrder(): Promise<{ plant: string; stream: string; subject: string; events: RecordedEvent[] }> {
  const plant = uniquePlant();
  const stream = `${plant}.order.MO_1`;
  let revision: bigint | 'no_stream' = 'no_stream';
  for (let i = 1; i <= 5; i++) revision = (await store.appendToStream(stream, [newEvent(`Step${i}`, { i })], { expectedRevision: revision })).nextRevision;
  return { plant, stream, subject: `${EVENTS_SUBJECT_PREFIX}.${stream}`, events: (await store.readStream(stream)).events };
}

interface RawMessage {
  subject: string;
  body: unknown[];
}

/**
 * What an administrator of the NATS cluster can do although the stream denies deletes (a setting
 * that cannot be lifted): copy every message out, delete the whole stream, create it again, and
 * write the messages back, edited by `edit`.
 */
async function rewriteLog(edit: (messages: RawMessage[]) => RawMessage[]): Promise<void> {
  const info = await jsm.streams.info(EVENTS_STREAM);
  const messages: RawMessage[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(EVENTS_STREAM, { seq }).catch(() => null);
    if (msg !== null) messages.push({ subject: msg.subject, body: msg.json<unknown[]>() });
  }
  await jsm.streams.delete(EVENTS_STREAM);
  await jsm.streams.add(info.config);
  const js = jetstream(nc);
  for (const message of edit(messages)) await js.publish(message.subject, JSON.stringify(message.body));
}

function indexOf(messages: RawMessage[], subject: string, nth: number): number {
  let seen = -1;
  return messages.findIndex((m) => m.subject === subject && ++seen === nth);
}


describe('the event log\'s hash chains', () => {
  it('hold for a log written through the store', async () => {
    const { plant } = await writtenOrder();
    const progress: number[] = [];
    const result = await verifyChains(store, { plantId: plant, onProgress: (n) => progress.push(n), progressEvery: 2 });
    expect(result).toEqual({ events: 5, streams: 1 });
    expect(progress.at(-1)).toBe(5);
  });

  it('find an event appended straight to the store\'s subject, without a hash or with a made-up one', async () => {
    const { plant, stream, subject } = await writtenOrder();
    await jetstream(nc).publish(subject, JSON.stringify([{ ...newEvent('Forged', { i: 6 }), stream }]));
    const result = await verifyChains(store, { plantId: plant });
    expect(result.broken).toMatchObject({ stream, reason: expect.stringContaining('carries no hash') });
    expect(result.events).toBe(6);

    const other = await writtenOrder();
    const last = other.events.at(-1)!;
    await jetstream(nc).publish(other.subject, JSON.stringify([{ ...newEvent('Forged', { i: 6 }), stream: other.stream, previousHash: last.hash, hash: 'a'.repeat(64) }]));
    expect((await verifyChains(store, { plantId: other.plant })).broken).toMatchObject({ stream: other.stream, reason: expect.stringContaining('does not match its hash') });
  });

  it('cannot lose an event to a delete: the store refuses deletes, and that cannot be lifted', async () => {
    const { subject } = await writtenOrder();
    const first = await jsm.streams.getMessage(EVENTS_STREAM, { last_by_subj: subject });
    await expect(jsm.streams.deleteMessage(EVENTS_STREAM, first!.seq)).rejects.toThrow();
    const info = await jsm.streams.info(EVENTS_STREAM);
    await expect(jsm.streams.update(EVENTS_STREAM, { ...info.config, deny_delete: false })).rejects.toThrow(/deny message deletes/);
  });

  it('find an event that was removed when the log was written again', async () => {
    const { plant, stream, subject } = await writtenOrder();
    await rewriteLog((messages) => messages.filter((_, i) => i !== indexOf(messages, subject, 2)));
    const result = await verifyChains(store, { plantId: plant });
    expect(result.broken).toMatchObject({ stream, eventId: expect.any(String), reason: expect.stringContaining('removed, reordered or inserted') });
    expect((await store.readStream(stream)).events.map((e) => e.type)).toEqual(['Step1', 'Step2', 'Step4', 'Step5']);
    expect(result.broken?.eventId).toBe((await store.readStream(stream)).events[2]!.eventId);
  });

  it('find an event whose data was changed when the log was written again', async () => {
    const { plant, stream, subject, events } = await writtenOrder();
    await rewriteLog((messages) => messages.map((m, i) => (i === indexOf(messages, subject, 3) ? { ...m, body: [{ ...(m.body[0] as object), data: { i: 400 } }] } : m)));
    expect((await verifyChains(store, { plantId: plant })).broken).toMatchObject({ stream, eventId: events[3]!.eventId, reason: expect.stringContaining('changed after it was written') });
  });

  it('find events that were reordered when the log was written again', async () => {
    const { plant, stream, subject, events } = await writtenOrder();
    await rewriteLog((messages) => {
      const [a, b] = [indexOf(messages, subject, 1), indexOf(messages, subject, 2)];
      const swapped = [...messages];
      [swapped[a], swapped[b]] = [swapped[b]!, swapped[a]!];
      return swapped;
    });
    expect((await verifyChains(store, { plantId: plant })).broken).toMatchObject({ stream, eventId: events[2]!.eventId });
  });

  it('verify the streams asked for, each whole', async () => {
    const { stream } = await writtenOrder();
    const second = await writtenOrder();
    expect(await verifyChains(store, { streams: [stream, second.stream] })).toEqual({ events: 10, streams: 2 });
  });
});
