#!/usr/bin/env node
// Copied unchanged (but for this header and the usage lines) from the project's shared benchmark
// reference, ../shared/bench/raw-pipe.mjs of the development machines, so a clone stands alone;
// keep it identical in behaviour, or the ratios stop being comparable with earlier figures.
/* global performance, TextDecoder, setInterval, clearInterval -- Node globals the original relies on */
//
// The reference floor for ingest speed: MQTT -> Node (JSON.parse only) -> JetStream, acked.
// Nothing else happens to a reading, so an ingest service can approach this rate but not pass it.
// Run it from the project root (it loads mqtt and the NATS client from the project's node_modules):
//
//   node bench/raw-pipe.mjs [--n 100000] [--qos 1] [--window 2000] \
//        [--mqtt mqtt://127.0.0.1:1883] [--nats nats://127.0.0.1:4222]
//     prints one JSON line: {"role":"raw-pipe", "n", "acked", "secs", "rate", ...}
//
//   node bench/raw-pipe.mjs --publish-only [--n 100000] [--qos 1] [--plants 4] [--machines 500]
//     publishes contract-shaped telemetry (CONTRACT.md §1) to mes/{plant}/{machine}/telemetry and
//     prints {"role":"publisher", "n", "secs", "rate"}: use it to drive the ingest service the same way.
//
// Timing: from the first publish to the last JetStream ack, publisher in a separate process.
import { createRequire } from 'node:module';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const requireFromProject = createRequire(`${process.cwd()}/package.json`);
const load = (name) => import(requireFromProject.resolve(name));

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => {
    if (!a.startsWith('--')) return pairs;
    const next = all[i + 1];
    pairs.push([a.slice(2), next === undefined || next.startsWith('--') ? 'true' : next]);
    return pairs;
  }, []),
);
const N = Number(args.n ?? 100_000);
const QOS = Number(args.qos ?? 1);
const WINDOW = Number(args.window ?? 2000);
const MQTT_URL = args.mqtt ?? process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const NATS_URL = args.nats ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const PLANTS = Number(args.plants ?? 4);
const MACHINES = Number(args.machines ?? 500);
const STATUSES = ['Running', 'Running', 'Running', 'Idle', 'Fault'];
const TRENDS = ['Stable', 'Stable', 'Improving', 'Declining'];
const epochMs = () => performance.timeOrigin + performance.now();

function reading(i) {
  const plant = `P${i % PLANTS}`;
  const machine = `M-${String(i % MACHINES).padStart(4, '0')}`;
  const target = 100 + (i % 50);
  return {
    topic: `mes/${plant}/${machine}/telemetry`,
    body: JSON.stringify({
      machineStatus: STATUSES[i % STATUSES.length],
      qualityTrend: TRENDS[i % TRENDS.length],
      productionTarget: target,
      productionActual: target - (i % 30),
      timestamp: new Date(1_790_000_000_000 + i).toISOString(),
      messageId: `bench-${process.pid}-${i}`,
    }),
  };
}

async function publish() {
  const { default: mqtt } = await load('mqtt');
  const client = await mqtt.connectAsync(MQTT_URL, { clientId: `bench-pub-${process.pid}` });
  // Up to PUBLISH_WINDOW publishes in flight, as a busy edge gateway would have; QoS 1 waits for PUBACKs.
  const PUBLISH_WINDOW = 500;
  const inFlight = new Set();
  const t0 = epochMs();
  for (let i = 0; i < N; i++) {
    const { topic, body } = reading(i);
    const sent = client.publishAsync(topic, body, { qos: QOS });
    inFlight.add(sent);
    sent.finally(() => inFlight.delete(sent));
    if (inFlight.size >= PUBLISH_WINDOW) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  const secs = (epochMs() - t0) / 1000;
  await client.endAsync();
  return { role: 'publisher', n: N, qos: QOS, t0, secs: +secs.toFixed(3), rate: Math.round(N / secs) };
}

async function rawPipe() {
  const { default: mqtt } = await load('mqtt');
  const { connect, createInbox } = await load('@nats-io/transport-node');
  const { jetstreamManager, StorageType } = await load('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const STREAM = `BENCH_RAW_${process.pid}`;
  await jsm.streams.add({ name: STREAM, subjects: [`benchraw${process.pid}.>`], storage: StorageType.File });

  const inbox = createInbox();
  const decoder = new TextDecoder();
  let inflight = 0, acked = 0, failed = 0, lastAck = 0, nextId = 0, faults = 0;
  let resumeReading = null;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  nc.subscribe(`${inbox}.*`, {
    callback: (_err, msg) => {
      const ack = JSON.parse(decoder.decode(msg.data));
      if (ack.error) failed++; else acked++;
      inflight--; lastAck = epochMs();
      if (resumeReading && inflight < WINDOW) { const r = resumeReading; resumeReading = null; r(); }
      if (acked + failed === N) finish();
    },
  });
  await nc.flush();

  const client = await mqtt.connectAsync(MQTT_URL, { clientId: `bench-raw-${process.pid}`, clean: true });
  client.handleMessage = (packet, done) => {
    const reading = JSON.parse(packet.payload.toString());
    const [, plant, machine] = packet.topic.split('/');
    inflight++;
    nc.publish(`benchraw${process.pid}.${plant}.${machine}`, packet.payload, { reply: `${inbox}.${++nextId}` });
    if (reading.machineStatus === 'Fault') faults++; // uses the parsed reading, as any consumer would
    if (inflight >= WINDOW) resumeReading = done; else done();
  };
  await client.subscribeAsync('mes/+/+/telemetry', { qos: QOS });

  const publisher = fork(fileURLToPath(import.meta.url), ['--publish-only', '--n', String(N), '--qos', String(QOS), '--mqtt', MQTT_URL], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const publisherExited = new Promise((resolve) => publisher.once('exit', resolve));
  let published = '';
  publisher.stdout.on('data', (d) => (published += d));
  const started = epochMs();
  const stall = setInterval(() => { if (epochMs() - (lastAck || started) > 10_000) finish(); }, 1000);
  await finished;
  clearInterval(stall);
  await publisherExited;
  const pub = JSON.parse(published.trim().split('\n').pop());
  const secs = (lastAck - pub.t0) / 1000;
  const stored = (await jsm.streams.info(STREAM)).state.messages;
  await jsm.streams.delete(STREAM);
  await client.endAsync();
  await nc.drain();
  return { role: 'raw-pipe', n: N, qos: QOS, window: WINDOW, acked, failed, stored, faults, secs: +secs.toFixed(3), rate: Math.round(acked / secs), publisherRate: pub.rate };
}

const result = args['publish-only'] ? await publish() : await rawPipe();
console.log(JSON.stringify(result));
