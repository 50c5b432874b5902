// Reading dead letters back from a real nats-server: newest first, pages bounded in bytes as well as
// in count (a dead letter holds up to 64 KiB of payload), a cursor to read on, and the same over
// GET /api/dead-letters.
import { deadLetterSubject } from '@mes/contracts';
import { provisionTopology } from '@mes/platform';
import { startNatsServer, type NatsServerHandle } from '@mes/platform/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deadLetterRecord } from '../domain/deadLetter.js';
import { readDeadLetters, type StoredDeadLetter } from './deadLetterLog.js';
import { registerDeadLetterRoutes } from './deadLetterRoutes.js';

const BIG = 70 * 1024;
const big = (n: number) => Buffer.from(JSON.stringify({ n, pad: 'x'.repeat(BIG) }));
const small = (n: number) => Buffer.from(`{"n":${n},"machineStatus":"Exploded"}`);

describe('dead letters read back in bounded pages', () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let http: FastifyInstance;
  /** Sequences of the letters published, oldest first. */
  const bigSeqs: number[] = [];
  const smallSeqs: number[] = [];

  async function publish(plantId: string, payload: Buffer, n: number): Promise<number> {
    const record = deadLetterRecord({ topic: `mes/${plantId}/M-${n}/telemetry`, payload, reason: `reason ${n}`, receivedAt: new Date() });
    return (await jetstream(nc).publish(deadLetterSubject(plantId), JSON.stringify(record))).seq;
  }

  const bytesOf = (letters: StoredDeadLetter[]) => letters.reduce((sum, letter) => sum + Buffer.byteLength(JSON.stringify(letter)), 0);

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 60_000 });
    // 40 large letters of plant PB, with 200 small ones of plant PS in between.
    for (let i = 0; i < 40; i++) {
      bigSeqs.push(await publish('PB', big(i), i));
      for (let j = 0; j < 5; j++) smallSeqs.push(await publish('PS', small(i * 5 + j), i * 5 + j));
    }
    http = Fastify();
    registerDeadLetterRoutes(http, nc, { maxResponseBytes: 1024 * 1024 });
    await http.ready();
  });
  afterAll(async () => {
    await http?.close();
    await nc?.close();
    await nats?.dispose();
  });

  it('cuts a page at the byte bound, says so, and reads on from the cursor to the first letter', async () => {
    const maxBytes = 1024 * 1024;
    const seen: number[] = [];
    let before: number | undefined;
    let pages = 0;
    for (;;) {
      const page = await readDeadLetters(nc, { limit: 10_000, plantId: 'PB', maxBytes, ...(before === undefined ? {} : { before }) });
      pages++;
      expect(bytesOf(page.deadLetters)).toBeLessThanOrEqual(maxBytes + 1024 * page.deadLetters.length);
      expect(page.deadLetters.length).toBeGreaterThan(0);
      seen.push(...page.deadLetters.map((letter) => letter.sequence));
      if (page.nextBefore === undefined) {
        expect(page.truncated).toBe(false);
        break;
      }
      expect(page.truncated).toBe(true);
      expect(page.nextBefore).toBe(page.deadLetters.at(-1)!.sequence);
      before = page.nextBefore;
    }
    // About 14 letters of 70 KiB fit in 1 MiB: several pages, together every letter once, newest first.
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen).toEqual([...bigSeqs].reverse());
  });

  it('pages through every plant\'s letters together, newest first, each once', async () => {
    const seen: number[] = [];
    let before: number | undefined;
    do {
      const page = await readDeadLetters(nc, { limit: 10_000, maxBytes: 512 * 1024, ...(before === undefined ? {} : { before }) });
      seen.push(...page.deadLetters.map((letter) => letter.sequence));
      before = page.nextBefore;
    } while (before !== undefined);
    expect(seen).toEqual([...bigSeqs, ...smallSeqs].sort((a, b) => b - a));
  });

  it('stops at the limit without calling it truncated, with a cursor for the older ones', async () => {
    const page = await readDeadLetters(nc, { limit: 7, plantId: 'PS' });
    expect(page.deadLetters.map((letter) => letter.sequence)).toEqual(smallSeqs.slice(-7).reverse());
    expect(page).toMatchObject({ truncated: false, nextBefore: smallSeqs.at(-7) });
    const next = await readDeadLetters(nc, { limit: 7, plantId: 'PS', before: page.nextBefore! });
    expect(next.deadLetters.map((letter) => letter.sequence)).toEqual(smallSeqs.slice(-14, -7).reverse());
    // Every plant, newest first, across both plants.
    const all = await readDeadLetters(nc, { limit: 3 });
    expect(all.deadLetters.map((letter) => letter.sequence)).toEqual([...bigSeqs, ...smallSeqs].sort((a, b) => b - a).slice(0, 3));
  });

  it('returns the newest letter even when it alone is over the bound', async () => {
    const page = await readDeadLetters(nc, { limit: 10, plantId: 'PB', maxBytes: 1000 });
    expect(page.deadLetters.map((letter) => letter.sequence)).toEqual([bigSeqs.at(-1)]);
    expect(page.deadLetters[0]).toMatchObject({ truncated: true, payloadBytes: big(39).byteLength, reason: 'reason 39' });
    expect(page).toMatchObject({ truncated: true, nextBefore: bigSeqs.at(-1) });
  });

  it('answers GET /api/dead-letters?limit=10000 within its byte bound, and pages on with before', async () => {
    const first = await http.inject({ method: 'GET', url: '/api/dead-letters?plantId=PB&limit=10000' });
    expect(first.statusCode).toBe(200);
    expect(first.rawPayload.byteLength).toBeLessThan(1.1 * 1024 * 1024);
    const body = first.json<{ count: number; deadLetters: StoredDeadLetter[]; truncated: boolean; nextBefore: number }>();
    expect(body.count).toBe(body.deadLetters.length);
    expect(body.count).toBeLessThan(40);
    expect(body).toMatchObject({ truncated: true, nextBefore: body.deadLetters.at(-1)!.sequence });
    const second = (await http.inject({ method: 'GET', url: `/api/dead-letters?plantId=PB&limit=10000&before=${body.nextBefore}` })).json<{ deadLetters: StoredDeadLetter[] }>();
    expect(second.deadLetters[0]!.sequence).toBe(bigSeqs[bigSeqs.indexOf(body.nextBefore) - 1]);

    const everything = (await http.inject({ method: 'GET', url: '/api/dead-letters?plantId=PS&limit=10000' })).json<{ count: number; truncated: boolean; nextBefore?: number }>();
    expect(everything).toMatchObject({ count: 200, truncated: false });
    expect(everything.nextBefore).toBeUndefined();

    for (const before of ['0', 'x', '-1', '1.5']) {
      const bad = await http.inject({ method: 'GET', url: `/api/dead-letters?before=${before}` });
      expect(bad.statusCode, before).toBe(400);
      expect(bad.json()).toMatchObject({ status: 400, code: 'INVALID_REQUEST', detail: expect.stringContaining('before must be') });
    }
  });
});
