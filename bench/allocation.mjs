#!/usr/bin/env node
// bench: allocation
// `npm run bench:allocation`: what one allocation decision costs as a plant's history grows (issue
// "one allocation decision after 100 vs 100,000 past orders: flat, within 1.5x").
//
//   npm run build && node bench/allocation.mjs [--past 100,100000] [--decisions 200]
//
// Against an isolated nats-server, in this process: for each history length, a plant of its own
// with two technicians and two equipment whose streams already hold `past` finished orders (each
// queued, reserved, confirmed and left on the queue stream, allocated and released on a technician
// and an equipment stream), written straight through the event store in batches. A fresh allocator
// (a copy of the resources service just started) then makes one allocation (timed apart: its first
// read of the plant's streams is whole, the start-up cost) and `decisions` allocate + release
// pairs, each timed (after a warm-up plant that is not reported). Rows: the median allocate and release decision after the longest history
// against the shortest (target: at most 1.5x), and the first decision after a start.
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { median, parseArgs, printResult, row } from './protocol.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = parseArgs();
const PAST = String(args.past ?? '100,100000').split(',').map(Number);
const DECISIONS = Number(args.decisions ?? 200);
const TARGET_RATIO = 1.5;
/**
 * Events per append while prefilling: far fewer messages than the service would write (one per
 * decision), for speed, yet small ones (tens of kB), as a whole read of 500-event appends of five
 * such streams at once stalled its consumer fetches.
 */
const BATCH = 100;

const load = (path) => import(join(root, path));
let modules;
try {
  modules = await Promise.all([
    load('platform/dist/testing/natsServer.js'),
    load('platform/dist/index.js'),
    load('contracts/dist/index.js'),
    load('services/resources/dist/application/allocation.js'),
  ]);
} catch (err) {
  console.error(`bench:allocation needs the build: run npm run build first (${err.message})`);
  process.exit(1);
}
const [{ startNatsServer }, platform, contracts, { createAllocator, queueStream, resourceStream }] = modules;
const { JetStreamEventStore, provisionTopology, createLogger } = platform;
const { connect } = await import('@nats-io/transport-node');
const { jetstreamManager } = await import('@nats-io/jetstream');

const log = (line) => console.log(line);
const ms = (value) => +value.toFixed(2);
const TECHNICIANS = ['T-01', 'T-02'];
const EQUIPMENT = ['EQ-01', 'EQ-02'];

function envelope(type, data, at) {
  return { eventId: randomUUID(), type, version: 1, occurredAt: at, correlationId: 'bench-prefill', causationId: null, actor: { kind: 'service', id: 'resources' }, data };
}

/** Appends `events` (a generator) to `stream` in batches, each at the revision the one before left. */
async function appendAll(store, stream, events) {
  let revision = 'no_stream';
  let batch = [];
  const flush = async () => {
    revision = (await store.appendToStream(stream, batch, { expectedRevision: revision })).nextRevision;
    batch = [];
  };
  for (const event of events) {
    batch.push(event);
    if (batch.length === BATCH) await flush();
  }
  if (batch.length > 0) await flush();
}

/** A plant whose queue and resource streams hold `past` finished orders. */
async function prefill(store, plantId, past) {
  const at = new Date(Date.now() - 24 * 3600_000).toISOString();
  const orderId = (i) => `MO_past_${i}`;
  const technicianOf = (i) => TECHNICIANS[i % TECHNICIANS.length];
  const equipmentOf = (i) => EQUIPMENT[i % EQUIPMENT.length];
  function* queue() {
    for (let i = 0; i < past; i++) {
      const ids = { orderId: orderId(i), technicianId: technicianOf(i), equipmentId: equipmentOf(i) };
      yield envelope('OrderQueuedForResources', { orderId: ids.orderId, plantId, machineId: 'M-1', approvedAt: at, correlationId: `WF_${ids.orderId}` }, at);
      yield envelope('OrderResourcesReserved', { ...ids, reservedAt: at }, at);
      yield envelope('OrderResourcesConfirmed', { ...ids, confirmedAt: at }, at);
      yield envelope('OrderLeftResourceQueue', { ...ids, leftAt: at }, at);
    }
  }
  function* resource(resourceId, resourceType, holds) {
    yield envelope('ResourceRegistered', { resourceId, plantId, resourceType, name: `${resourceType} ${resourceId}`, registeredAt: at }, at);
    for (let i = 0; i < past; i++) {
      if (!holds(i)) continue;
      yield envelope('ResourceAllocated', { resourceId, orderId: orderId(i), at }, at);
      yield envelope('ResourceReleased', { resourceId, orderId: orderId(i), at }, at);
    }
  }
  await Promise.all([
    appendAll(store, queueStream(plantId), queue()),
    ...TECHNICIANS.map((id) => appendAll(store, resourceStream(plantId, id), resource(id, 'Technician', (i) => technicianOf(i) === id))),
    ...EQUIPMENT.map((id) => appendAll(store, resourceStream(plantId, id), resource(id, 'Equipment', (i) => equipmentOf(i) === id))),
  ]);
}

function allocateCommand(plantId, orderId) {
  const issuedAt = new Date().toISOString();
  return { type: 'AllocateResources', version: 1, commandId: `WF_${orderId}/allocate-resources`, correlationId: `WF_${orderId}`, plantId, issuedAt, actor: { kind: 'service', id: 'workflow' }, orderId, machineId: 'M-1' };
}

function releaseCommand(plantId, orderId) {
  const issuedAt = new Date().toISOString();
  return { type: 'ReleaseResources', version: 1, commandId: `WF_${orderId}/release-resources`, correlationId: `WF_${orderId}`, plantId, issuedAt, actor: { kind: 'service', id: 'workflow' }, orderId };
}

async function timed(fn) {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function measure(nc, store, past, decisions = DECISIONS) {
  const plantId = `PB${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const prefillMs = await timed(() => prefill(store, plantId, past));
  // A copy just started: nothing kept yet.
  const allocator = createAllocator({ store, nc, logger: createLogger({ service: 'bench', level: 'silent' }), now: () => new Date(), resourceIds: () => [...TECHNICIANS, ...EQUIPMENT] });
  const firstMs = await timed(() => allocator.requestResources(allocateCommand(plantId, 'MO_first')));
  await allocator.releaseResources(releaseCommand(plantId, 'MO_first'));
  const allocate = [];
  const release = [];
  for (let k = 0; k < decisions; k++) {
    const orderId = `MO_bench_${k}`;
    allocate.push(await timed(() => allocator.requestResources(allocateCommand(plantId, orderId))));
    release.push(await timed(() => allocator.releaseResources(releaseCommand(plantId, orderId))));
  }
  // Every decision must have done its work: each order confirmed, then gone, the pair free again.
  const { queue } = await allocator.readQueue(plantId);
  if (queue.orders.size !== 0 || queue.left.size !== past + decisions + 1) throw new Error(`unexpected queue after the run: ${queue.orders.size} orders in it, ${queue.left.size} left`);
  const p90 = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.9)];
  const result = { past, prefillMs, firstMs, allocate: median(allocate), release: median(release), allocateP90: p90(allocate), releaseP90: p90(release) };
  log(
    `${past} past orders: prefill ${ms(prefillMs / 1000)} s; first decision after start ${ms(firstMs)} ms; ` +
      `allocate median ${ms(result.allocate)} ms (p90 ${ms(result.allocateP90)}), release median ${ms(result.release)} ms (p90 ${ms(result.releaseP90)}) over ${decisions}`,
  );
  return result;
}

const nats = await startNatsServer();
const nc = await connect({ servers: nats.url });
let results;
try {
  await provisionTopology(nc, await jetstreamManager(nc), { dedupeWindowMs: 2 * 60 * 1000 });
  const store = new JetStreamEventStore({ nc, stream: contracts.EVENTS_STREAM, subjectPrefix: contracts.EVENTS_SUBJECT_PREFIX });
  // Warm up (JIT, connection, JetStream) on a plant of its own, so the first measured plant is not the slower for it.
  await measure(nc, store, PAST[0], Math.min(DECISIONS, 50));
  results = [];
  for (const past of PAST) results.push(await measure(nc, store, past));
  await store.close();
} finally {
  await nc.close();
  await nats.dispose();
}

const short = results[0];
const long = results.at(-1);
const label = (n) => n.toLocaleString('en-US');
const target = `<= ${TARGET_RATIO}x`;
printResult('allocation', [
  row({
    measure: `allocate decision after ${label(long.past)} past orders (median of ${DECISIONS})`,
    value: ms(long.allocate),
    unit: 'ms',
    baseline: ms(short.allocate),
    baselineName: `after ${label(short.past)} past orders`,
    target,
    note: `p90 ${ms(long.allocateP90)} vs ${ms(short.allocateP90)} ms`,
  }),
  row({
    measure: `release decision after ${label(long.past)} past orders (median of ${DECISIONS})`,
    value: ms(long.release),
    unit: 'ms',
    baseline: ms(short.release),
    baselineName: `after ${label(short.past)} past orders`,
    target,
    note: `p90 ${ms(long.releaseP90)} vs ${ms(short.releaseP90)} ms`,
  }),
  row({
    measure: `first allocation of a just-started copy after ${label(long.past)} past orders`,
    value: ms(long.firstMs),
    unit: 'ms',
    baseline: ms(short.firstMs),
    baselineName: `after ${label(short.past)} past orders`,
    note: 'start-up cost: the first read of a plant reads its queue and resource streams whole (no target)',
  }),
]);
